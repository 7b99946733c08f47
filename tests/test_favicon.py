"""The favicon that browsers request at /favicon.ico on every site."""

from django.contrib.staticfiles import finders
from django.test import Client


def test_favicon_ico_redirects_to_svg(db):
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg")
