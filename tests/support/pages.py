"""Drive the HTML pages the way a browser form would (urlencoded or multipart posts with ``_csrf``)."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from tests.support.actors import PASSWORD

_CSRF = re.compile(r'name="_csrf" value="([^"]*)"')


def csrf_in(html: str) -> str:
    """The ``_csrf`` value of the first form on a page."""
    match = _CSRF.search(html)
    assert match is not None, "no _csrf field on the page"
    return match.group(1)


async def sign_in_on_page(client: AsyncTestClient[Any], username: str, password: str = PASSWORD,
                          next_path: str = "/") -> Any:
    """Open the sign-in page and submit its form; returns the (unfollowed) answer."""
    form_page = await client.get("/login")
    assert form_page.status_code == 200, form_page.text
    return await client.post(
        "/login",
        data={"username": username, "password": password, "next": next_path, "_csrf": csrf_in(form_page.text)},
        follow_redirects=False,
    )


async def signed_in_page(client: AsyncTestClient[Any], username: str, path: str) -> tuple[Any, str]:
    """Sign in through the form, open ``path``; returns the page answer and its form token."""
    response = await sign_in_on_page(client, username)
    assert response.status_code == 303, response.text
    opened = await client.get(path)
    return opened, csrf_in(opened.text)
