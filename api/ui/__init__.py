"""The safety review committee's pages: sign-in, the trials, the meeting page, API keys (admin).

Server-rendered (Jinja2 templates in ``api/ui/templates``, pictures as inline SVG), with the one
stylesheet and the one small script served from ``api/ui/static``: no build step, nothing loaded
from elsewhere. People sign in with their API key; the page session is an HttpOnly, SameSite=Strict
cookie (``Secure`` over HTTPS) and every form carries a CSRF token. The JSON API keeps its bearer
keys. Handlers are thin: the content comes from ``api.services``.
"""

from api.ui.pages import install_ui

__all__ = ["install_ui"]
