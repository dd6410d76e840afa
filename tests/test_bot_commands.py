"""Parsing of comment commands: the forms users write, and the ones that must stay inert."""

from __future__ import annotations

import pytest

from bot.commands import COMMANDS, Command, help_text, parse_command


@pytest.mark.parametrize(("body", "expected"), [
    ("@refactor-bot run cache", Command("run", ("cache",))),
    ("/refactor run all", Command("run", ("all",))),
    ("Thanks!\r\n\r\n@refactor-bot   RUN   list-ops  \r\n", Command("run", ("list-ops",))),
    ("@refactor-bot[bot] status", Command("status")),
    ("  /refactor skip src/app/cache.py", Command("skip", ("src/app/cache.py",))),
    ("@Refactor-Bot help", Command("help")),
    ("@refactor-bot frobnicate", Command("frobnicate")),
    ("first line\n@refactor-bot plan\n@refactor-bot help", Command("plan")),
])
def test_commands_are_found(body, expected):
    assert parse_command(body) == expected


@pytest.mark.parametrize("body", [
    None,
    "",
    "I think @refactor-bot run cache would help",  # not at the start of a line
    "> @refactor-bot run cache\n\nagreed",  # a quoted reply
    "```\n@refactor-bot run cache\n```",  # documentation in a code fence
    "@refactor-botty run cache",  # another account
    "/refactoring run cache",
    "@refactor-bot",  # no verb
])
def test_inert_comments(body):
    assert parse_command(body) is None


def test_custom_names():
    assert parse_command("@perfbot run core", bot_name="perfbot") == Command("run", ("core",))
    assert parse_command("@refactor-bot run core", bot_name="perfbot") is None
    assert parse_command("!bot run core", command_prefix="!bot") == Command("run", ("core",))


def test_errors():
    assert Command("run", ("cache",)).error() is None
    assert "needs an argument" in Command("run").error()
    assert "needs an argument" in Command("skip").error()
    assert "don't know" in Command("frobnicate").error()
    assert Command("rebase").error() is None


def test_help_lists_every_command():
    text = help_text()
    for usage, _ in COMMANDS.values():
        assert f"`{usage}`" in text
