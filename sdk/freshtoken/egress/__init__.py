"""What may leave the process, and how: the endpoint policy every URL a secret is sent to must pass, the
guarded transport that checks the address a name resolves to, and the log filter that keeps the HTTP stack
from logging what a server echoes. Depends on nothing but :mod:`freshtoken.errors`."""
