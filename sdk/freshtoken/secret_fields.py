"""Token-response fields that hold secrets, and the refusal to copy them anywhere in the clear.

``provider_options.extra_fields`` copies non-secret response fields (Salesforce's ``instance_url``, Zoom's
``api_url``) into the KV record and the plaintext ``extras`` of the state. A secret named there would be
written in the clear, so these names are refused when the configuration is read and when a provider is built:
the fields of :data:`SECRET_RESPONSE_FIELDS`, and any a provider declares in ``Provider.secret_fields``.
Names are compared without case, ``_`` or ``-`` (``refreshToken`` is ``refresh_token``).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Response fields every provider treats as secret.
SECRET_RESPONSE_FIELDS = frozenset({
    "access_token", "refresh_token", "id_token", "token", "client_secret", "authorization_code", "device_code",
    "password", "assertion", "client_assertion",
})


def _canonical(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def secret_field_names(names: Iterable[str], extra_secret: Iterable[str] = ()) -> list[str]:
    """The names of ``names`` that are secret fields (the built-in ones, or ``extra_secret``)."""
    secret = {_canonical(n) for n in (*SECRET_RESPONSE_FIELDS, *extra_secret)}
    return [n for n in names if isinstance(n, str) and _canonical(n) in secret]


def check_extra_fields(names: Iterable[str], extra_secret: Iterable[str] = ()) -> None:
    """Refuse (``ValueError``, naming them) secret fields among ``extra_fields``."""
    refused = secret_field_names(names, extra_secret)
    if refused:
        listed = ", ".join(repr(n) for n in refused)
        raise ValueError(
            f"extra_fields: {listed} hold{'s' if len(refused) == 1 else ''} a secret; extra_fields are copied "
            "in the clear to the KV record and the account state, so secret fields are refused "
            "(the access token is in the KV record already; refresh and ID tokens stay encrypted in the state)"
        )
