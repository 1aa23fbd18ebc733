"""The kit's authorization-side checks have teeth: a provider that declares ``authorize_url`` correctly passes
them, and each provider below that gets the authorize request, its endpoint or the code exchange wrong fails
the named kit test (one pytest run over generated conformance classes, as in ``test_conformance_kit``)."""

from __future__ import annotations

from pathlib import Path

from tests.kit.test_conformance_kit import _run_kit

AUTH = '''
class A(Base):
    authorize_url: str = "https://auth.example.com/authorize"
    offline_scopes: tuple[str, ...] = ("offline_access",)
    default_scopes: tuple[str, ...] = ("read",)
    authorize_params: dict[str, str] = {"prompt": "consent"}
'''

BROKEN = {
    # the state parameter (CSRF, RFC 6749 §10.12) is dropped from the authorize request
    "no_state": ('''
class P(A):
    def build_authorize_params(self, client, **kw):
        params = super().build_authorize_params(client, **kw)
        params.pop("state")
        return params
''', ["test_authorize_request"]),
    # PKCE with the plain method, or none at all although pkce is declared
    "plain_challenge": ('''
class P(A):
    def build_authorize_params(self, client, **kw):
        return {**super().build_authorize_params(client, **kw), "code_challenge_method": "plain"}
''', ["test_authorize_request"]),
    "no_challenge": ('''
class P(A):
    def build_authorize_params(self, client, **kw):
        return super().build_authorize_params(client, **{**kw, "code_challenge": None})
''', ["test_authorize_request"]),
    # the operator's --scope replaces the scope that brings a refresh token
    "drops_offline_scope": ('''
class P(A):
    def requested_scopes(self, scopes=None):
        return tuple(scopes) if scopes is not None else super().requested_scopes(scopes)
''', ["test_authorize_request"]),
    # a placeholder in the authorize URL that no account_fields pattern guards
    "undeclared_placeholder": ('''
class P(A):
    authorize_url: str = "https://{tenant}.example.com/authorize"
''', ["test_authorize_endpoint"]),
    # a pattern that lets any value choose the authorize host
    "lax_authorize_host": ('''
class P(A):
    account_fields: ClassVar[Mapping[str, str]] = {"shop": r".+"}
    authorize_url: str = "https://{shop}/authorize"
''', ["test_authorize_endpoint"]),
    # an authorization endpoint the default deployment policy refuses (a private address)
    "private_authorize": ('''
class P(A):
    authorize_url: str = "https://10.1.2.3/authorize"
''', ["test_authorize_endpoint"]),
    # the code exchange without the PKCE verifier
    "no_verifier": ('''
class P(A):
    def build_code_request(self, code, client, account_data, *, redirect_uri, code_verifier):
        return super().build_code_request(code, client, account_data, redirect_uri=redirect_uri, code_verifier=None)
''', ["test_code_exchange"]),
    # the code exchange sent as a refresh, or without the client's authentication
    "wrong_grant": ('''
class P(A):
    def build_code_request(self, *a, **kw):
        import dataclasses
        r = super().build_code_request(*a, **kw)
        return dataclasses.replace(r, params={**r.params, "grant_type": "refresh_token"})
''', ["test_code_exchange"]),
    "unauthenticated_exchange": ('''
class P(A):
    def build_code_request(self, *a, **kw):
        import dataclasses
        return dataclasses.replace(super().build_code_request(*a, **kw), auth_method="none")
''', ["test_code_exchange"]),
    # the code exchange goes somewhere other than the token endpoint
    "code_elsewhere": ('''
class P(A):
    def build_code_request(self, *a, **kw):
        import dataclasses
        r = super().build_code_request(*a, **kw)
        return dataclasses.replace(r, url="https://other.example.com/token")
''', ["test_code_exchange"]),
}

CORRECT = {
    "correct": "class P(A):\n    pass\n",
    "correct_per_shop": '''
class P(A):
    account_fields: ClassVar[Mapping[str, str]] = {"shop": r"[a-z0-9]{1,20}\\.example\\.com"}
    authorize_url: str = "https://{shop}/oauth/authorize"
    token_url: str = "https://{shop}/oauth/token"
    pkce: bool = False
    scope_separator: str = ","
    code_params: dict[str, str] = {"expiring": "1"}
''',
    "no_authorize_side": "class P(Base):\n    pass\n",
}


def test_kit_checks_the_authorization_side(tmp_path: Path) -> None:
    cases = {case: AUTH + body for case, (body, _) in BROKEN.items()}
    cases.update({case: AUTH + body for case, body in CORRECT.items()})
    output = _run_kit(tmp_path, cases)
    failed: dict[str, set[str]] = {}
    for line in output.splitlines():
        if line.startswith("FAILED "):
            _, cls, test = line.split(" ")[1].split("::")
            failed.setdefault(cls.removeprefix("Test_"), set()).add(test)
    for case in CORRECT:
        assert case not in failed, (case, failed.get(case), output[-4000:])
    for case, (_, expected) in BROKEN.items():
        assert set(expected) <= failed.get(case, set()), (case, failed.get(case), output[-4000:])
    assert " passed" in output, output[-2000:]
