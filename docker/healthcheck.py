"""Exit 0 when the web server inside this container returns the sign-in page.

docker-compose.yml runs this as the web service's health check. The request carries a
Host header taken from ALLOWED_HOSTS, because Django rejects any other host with 400.
An optional argument replaces the URL, for a server on another port.

Usage: python docker/healthcheck.py [URL]
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/accounts/login/"
TIMEOUT_SECONDS = 5


def allowed_host() -> str:
    """Return a host name that the first ALLOWED_HOSTS entry accepts."""
    entries = [entry.strip() for entry in os.environ.get("ALLOWED_HOSTS", "").split(",")]
    first = next((entry for entry in entries if entry), "*")
    if first == "*":
        return "localhost"
    # ".example.com" accepts example.com and every subdomain of it.
    return first.lstrip(".")


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL
    if not url.startswith(("http://", "https://")):
        print(
            f"invalid URL {url!r}: expected one starting with http:// or https://", file=sys.stderr
        )
        return 2
    # The scheme was checked above, so urlopen cannot open a file: URL here.
    request = urllib.request.Request(url, headers={"Host": allowed_host()})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = response.status
    except (urllib.error.URLError, TimeoutError) as error:
        print(f"GET {url} failed: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"GET {url} returned {status}, expected 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
