"""Every CLI command has help with an example, and the README names every command."""

from __future__ import annotations

import click
import pytest

from pypersonalize.cli import main
from tests.conftest import ROOT


def _commands(group: click.Group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        path = prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path)
        else:
            yield path, cmd


COMMANDS = list(_commands(main))


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_an_example(path, cmd):
    assert cmd.help and "Example:" in cmd.help, f"{' '.join(path)} has no Example: block"
    assert "pypersonalize " in cmd.help.split("Example:")[1]


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_is_in_the_readme(path, cmd):
    readme = (ROOT / "README.md").read_text()
    assert " ".join(path) in readme, f"README does not mention `{' '.join(path)}`"


def test_every_command_maps_to_an_api_method():
    from pypersonalize.project import Project
    # dataset-group create <-> create_dataset_group, etc.; the sql command maps to Project.sql.
    verbs = {"create": "create", "list": "list", "describe": "describe", "delete": "delete"}
    for path, _cmd in COMMANDS:
        if len(path) == 2 and path[1] in verbs:
            noun = path[0].replace("-", "_")
            noun = {"import_job": "dataset_import_job", "batch_inference": "batch_inference_job",
                    "batch_segment": "batch_segment_job"}.get(noun, noun)
            method = f"{verbs[path[1]]}_{noun}" + ("s" if path[1] == "list" else "")
            assert hasattr(Project, method), method
