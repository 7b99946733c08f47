"""Rendering email templates that workspace admins write.

Admins are trusted with their own workspace, not with the server, so templates run in
Jinja's sandbox with no loader: `include`, `import` and `extends` find nothing, and the
context holds only plain strings, numbers and lists copied from the breeder, program
and workspace. No model instance, setting or function reaches a template.

Names a template can use:

- `breeder.name`, `breeder.first_name`, `breeder.business_name`, `breeder.email`,
  `breeder.tier`, `breeder.phase`, `breeder.species` (a list), `breeder.animal_count`,
  `breeder.country`, `breeder.days_since_signup`;
- `program.name`, `program.step_title`, `program.day`;
- `workspace.name`, `workspace.sender_name`;
- `milestone.name`, `milestone.status`, `next_milestone.name`, `next_milestone.target_day`
  (milestone messages only; otherwise empty);
- `links.preferences`, `links.unsubscribe`, and for survey emails `links.scores`, a list
  of `{score, url}` pairs, one per possible answer.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import (
    DictLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment


class TemplateProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        # An empty loader: include, import and extends find nothing.
        loader=DictLoader({}),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Nothing global beyond Jinja's harmless built-ins (range, dict, lipsum, cycler,
    # joiner, namespace); remove the few that are not about presenting values.
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@functools.lru_cache(maxsize=512)
def _compiled(env: SandboxedEnvironment, source: str) -> Template:
    """Compiling is most of a render's cost; a batch renders the same few sources."""
    return env.from_string(source)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


SAMPLE_CONTEXT: dict[str, Any] = {
    "breeder": {
        "name": "Ana Núñez",
        "first_name": "Ana",
        "business_name": "Núñez Geckos",
        "email": "ana@example.com",
        "tier": "hobbyist",
        "phase": "onboarding",
        "species": ["Eublepharis macularius"],
        "animal_count": 4,
        "country": "ES",
        "days_since_signup": 3,
    },
    "program": {"name": "First Success", "step_title": "Welcome", "day": 0},
    "workspace": {"name": "ReptiDex", "sender_name": "The ReptiDex team"},
    "milestone": {"name": "First pedigree", "status": "on_time"},
    "next_milestone": {"name": "First community engagement", "target_day": 7},
    "links": {
        "preferences": "https://example.com/e/p/sample/",
        "unsubscribe": "https://example.com/e/u/sample/",
        "scores": [
            {"score": n, "url": f"https://example.com/e/s/sample/?score={n}"} for n in range(11)
        ],
    },
}


def check_template(subject: str, text_body: str, html_body: str) -> None:
    """Raise `TemplateProblem` naming the field when a part does not parse or uses a
    name the context does not have."""
    render_parts(subject, text_body, html_body, SAMPLE_CONTEXT)


def render_parts(
    subject: str, text_body: str, html_body: str, context: dict[str, Any]
) -> RenderedMessage:
    parts = {}
    for field, source, env in (
        ("subject", subject, _TEXT),
        ("text_body", text_body, _TEXT),
        ("html_body", html_body, _HTML),
    ):
        try:
            parts[field] = _compiled(env, source).render(context) if source else ""
        except TemplateSyntaxError as error:
            raise TemplateProblem(
                field, f"Line {error.lineno}: {error.message}. Fix the template syntax."
            ) from error
        except UndefinedError as error:
            raise TemplateProblem(
                field,
                f"{error.message}. Use only the names listed in the template help.",
            ) from error
        except TemplateError as error:
            raise TemplateProblem(field, f"{error}.") from error
    subject_line = " ".join(parts["subject"].split())
    html_part = parts["html_body"] or text_to_html(parts["text_body"])
    return RenderedMessage(subject_line, parts["text_body"], html_part)


_URL = re.compile(r"(https?://[^\s<>\"]+)")


def text_to_html(text: str) -> str:
    """A plain HTML version of a text part: paragraphs, list items and clickable links.

    Text parts are wrapped by hand, so lines inside a paragraph are joined with a
    space. A line that starts a list item ("1.", "-", "*"), follows a link, or belongs
    to the signature (after a "--" line) keeps its own line.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        lines: list[str] = []
        in_signature = False
        for line in paragraph.splitlines():
            line = line.strip()
            in_signature = in_signature or line == "--"
            joins = lines and not in_signature and not _OWN_LINE.match(line)
            if joins and not _URL.search(lines[-1]):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        escaped = [_URL.sub(r'<a href="\1">\1</a>', html.escape(line)) for line in lines]
        rendered.append("<p>" + "<br>\n".join(escaped) + "</p>")
    return "\n".join(rendered)


_OWN_LINE = re.compile(r"^(\d+[.)]|[-*•])\s")
