"""The README and docs/ against what they describe, so the documentation cannot drift from the code.

Links and anchors resolve; the flag tables of the gateway and of its health probe equal their command lines
both ways (variables, defaults and the documented rules included); every flag given to a project command,
every `make` target and variable, every `.venv/bin` command, every `python -m` module, every path and
every test file named exists; the README's RPC table is the services' list of RPCs and their REST routes;
each Python example's imports resolve and each JavaScript example parses.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from runs_gateway.assistants.v1 import runs_service_pb2 as v1
from runs_gateway.assistants.v2 import runs_service_pb2 as v2

from gateway import config, healthcheck
from gateway.routes import ROUTES, ROUTES_V2, WATCHES_V2, Route

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
PATH = re.compile(
    r"(?<![\w./-])(?:(?:examples|gateway|emulator|bench|tests|protos|deploy|requirements|tools|stubs|docs|\.ci)"
    r"/[\w./*-]*|Dockerfile|Makefile|pyproject\.toml|buf\.yaml|package(?:-lock)?\.json)(?![\w/-])"
)
MAKE = re.compile(r"(?<![\w$(-])make\s+([a-z][\w-]*)((?:\s+[A-Z][A-Z0-9_]*=\S*)*)")
SEPARATORS = {"&", "&&", "|", "||", ";"}


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@cache
def text(page: Path) -> str:
    return page.read_text()


def fences(page: Path) -> list[tuple[str, str]]:
    """(language, body) of each fenced code block of `page`."""
    return [(match[1], match[2]) for match in FENCE.finditer(text(page))]


def prose(page: Path) -> str:
    """`page` without its fenced code blocks."""
    return FENCE.sub("", text(page))


def spans(page: Path) -> list[str]:
    """The inline code spans of `page`'s prose, a span broken across lines joined by a space."""
    return [" ".join(match[1].split()) for match in SPAN.finditer(prose(page))]


def code(page: Path) -> list[str]:
    """Every piece of code of `page`: its inline spans, and each line of its fenced blocks (a line ending in
    a backslash joined with the next)."""
    lines = [line for _, body in fences(page) for line in body.replace("\\\n", " ").splitlines()]
    return spans(page) + lines


def commands(page: Path) -> Iterator[list[str]]:
    """The shell words of each piece of code of `page` that splits as shell words (JSON in quotes too)."""
    for piece in code(page):
        try:
            yield shlex.split(piece, comments=True)
        except ValueError:  # not shell: an unbalanced quote in a JavaScript or Go line
            continue


# --- Links --------------------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of the headings of `page`, a repeated one suffixed -1, -2 … as GitHub does."""
    seen: dict[str, int] = {}
    for match in HEADING.finditer(prose(page)):
        base = slug(match[2])
        seen[base] = seen.get(base, -1) + 1
    return {f"{base}-{n}" if n else base for base, count in seen.items() for n in range(count + 1)}


def links(page: Path) -> list[str]:
    """The link targets of `page`'s prose (not of its code)."""
    return LINK.findall(SPAN.sub("", prose(page)))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto: …: not this repository's
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, f"{page_id(page)}: {broken}"


def test_the_readme_and_the_index_link_every_page_of_docs() -> None:
    for index in (README, ROOT / "docs" / "README.md"):
        linked = {(index.parent / target.partition("#")[0]).resolve() for target in links(index)}
        missing = [page_id(page) for page in DOCS if page != index and page not in linked]
        assert not missing, f"{page_id(index)} does not link {missing}"


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_each_page_opens_with_what_it_covers_and_links_back_to_the_readme(page: Path) -> None:
    title, opening = text(page).split("\n\n")[:2]
    assert title.startswith("# "), "a page opens with its title"
    assert "\n" not in title, "a one-line title"
    assert "](../README.md)" in opening, "the opening paragraph links back to the README"


# --- Flag tables --------------------------------------------------------------------------------------------


def table(page: Path, header: str) -> list[list[str]]:
    """The rows (cells stripped) of the table of `page` whose header row is `header`."""
    lines = prose(page).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip().startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def ticked(cell: str) -> list[str]:
    """The inline code spans of a table cell."""
    return SPAN.findall(cell)


def options(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each long flag of `parser` → its destination (help left out)."""
    return {
        flag: action.dest
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    }


FLAG_TABLE = "| flag | environment | default | meaning |"
CONFIGURATION = ROOT / "docs" / "configuration.md"
SIDECAR = ROOT / "docs" / "sidecar.md"
GATEWAY_VARIABLES = {name: variable for name, variable, _, _ in config.FLAGS}
KINDS = {name: kind for name, _, kind, _ in config.FLAGS}
DEFAULTS = {field.name: field.default for field in dataclasses.fields(config.Settings)}
BASE = {"base_url": config.EXAMPLE_BASE_URL}


def gateway_rows() -> list[tuple[str | None, str | None, str, str]]:
    """(flag, environment variable, default cell, meaning cell) of each row of the configuration table."""
    rows = []
    for flag_cell, variable_cell, default, meaning in table(CONFIGURATION, FLAG_TABLE):
        flags, variables = ticked(flag_cell), ticked(variable_cell)
        assert len(flags) <= 1, f"one flag a row: {flag_cell}"
        assert len(variables) <= 1, f"one variable a row: {variable_cell}"
        rows.append((flags[0] if flags else None, variables[0] if variables else None, default, meaning))
    return rows


def test_the_configuration_table_lists_every_flag_of_the_gateway_and_no_other() -> None:
    documented = {flag for flag, _, _, _ in gateway_rows() if flag}
    flags = set(options(config._parser()))
    assert not flags - documented, f"docs/configuration.md lacks {sorted(flags - documented)}"
    assert not documented - flags, f"the gateway has no {sorted(documented - flags)}"


def test_each_flag_is_documented_with_the_variable_it_reads() -> None:
    flags = options(config._parser())
    for flag, variable, _, _ in gateway_rows():
        if flag:
            assert variable == GATEWAY_VARIABLES[flags[flag]], flag


def reads(variable: str) -> bool:
    """Whether the gateway's settings change when `variable` is set (to a key, or to a JSON object)."""
    environ = {GATEWAY_VARIABLES["base_url"]: config.EXAMPLE_BASE_URL}
    for value in ("sk-docs-test", '{"x-docs-test": "1"}'):
        try:
            if config.Settings.load([], {**environ, variable: value}) != config.Settings.load([], environ):
                return True
        except SystemExit:  # a value of the wrong form: try the next
            continue
    return False


def test_a_variable_without_a_flag_is_one_the_gateway_reads() -> None:
    for flag, variable, _, _ in gateway_rows():
        if flag is None:
            assert variable is not None, "a row names a flag or a variable"
            assert reads(variable), f"the gateway reads no {variable}"


def test_each_documented_default_is_the_gateways() -> None:
    flags = options(config._parser())
    for flag, _, default, _ in gateway_rows():
        if flag is None:
            continue
        name, values = flags[flag], ticked(default)
        if default.startswith("the dialect's"):  # unset: the dialect (gateway/dialects.py) decides
            assert DEFAULTS[name] is None, f"{flag} is documented as the dialect's but has a default"
        elif values:
            assert KINDS[name](values[0]) == DEFAULTS[name], flag
        elif "required" in default:
            assert not DEFAULTS[name], f"{flag} is documented as required but has a default"
        else:
            assert default in ("none", "off"), f"{flag}: a default is `a value`, none, off or required"
            assert DEFAULTS[name] is None, (
                f"{flag} is documented as {default} but defaults to {DEFAULTS[name]!r}"
            )


RULES = (
    (re.compile(r"at least `(\d+)`"), lambda m: (float(m[1]), None, True)),
    (re.compile(r"\((-?[\d.]+)\N{EN DASH}([\d.]+)[;)]"), lambda m: (float(m[1]), float(m[2]), True)),
    (re.compile(r"\(> (-?[\d.]+)\)"), lambda m: (float(m[1]), None, False)),
    (re.compile(r"\(≥ (-?[\d.]+)\)"), lambda m: (float(m[1]), None, True)),
)
"""How the table writes a rule of a number → (lowest, highest or None, whether the lowest is allowed)."""


def accepted(name: str, value: float) -> bool:
    number = int(value) if KINDS[name] is int else value
    try:
        config.Settings(**{**BASE, name: number})
    except ValueError:
        return False
    return True


def test_each_documented_range_is_the_one_the_gateway_enforces() -> None:
    flags, checked = options(config._parser()), []
    for flag, _, _, meaning in gateway_rows():
        for pattern, bounds in RULES:
            if flag and (match := pattern.search(meaning)):
                name = flags[flag]
                low, high, inclusive = bounds(match)
                step = 1 if KINDS[name] is int else low / 100 or 0.001
                assert accepted(name, low) is inclusive, f"{flag} {low:g}"
                assert accepted(name, low + step), f"{flag} {low + step:g}"
                assert not accepted(name, low - step), f"{flag} {low - step:g}"
                if high is not None:
                    assert accepted(name, high), f"{flag} {high:g}"
                    assert not accepted(name, high + step), f"{flag} {high + step:g}"
                checked.append(flag)
                break
    assert "--max-message-bytes" in checked


def test_the_health_probe_table_lists_every_flag_of_the_probe_with_its_variable() -> None:
    probe = options(healthcheck._parser({}))
    variables = {name: variable for name, _, variable, _ in healthcheck.FLAGS}
    rows = table(SIDECAR, FLAG_TABLE)
    documented = {ticked(flag_cell)[0]: ticked(variable_cell) for flag_cell, variable_cell, _, _ in rows}
    assert not set(probe) - set(documented), f"docs/sidecar.md lacks {sorted(set(probe) - set(documented))}"
    assert not set(documented) - set(probe), f"the probe has no {sorted(set(documented) - set(probe))}"
    for flag, variable in documented.items():
        expected = variables.get(probe[flag])
        assert variable == ([expected] if expected else []), flag


# --- Commands, targets, paths -------------------------------------------------------------------------------

CLIS = {
    "runs-gateway": ("gateway",),
    "runs-gateway-healthcheck": ("gateway.healthcheck",),
    "gateway": ("gateway",),
    "gateway.healthcheck": ("gateway.healthcheck",),
    "emulator": ("emulator",),
    "examples.call": ("examples.call",),
    "bench": ("bench",),
}
"""A project command or `python -m` module → the module whose `--help` lists its flags."""


@cache
def help_flags(module: str) -> frozenset[str]:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    return frozenset(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", done.stdout))


def invocations(words: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(command or `python -m` module, the flags given to it) for each command in a line of shell words."""
    for i, word in enumerate(words):
        name = Path(word).name
        if name.startswith("python") and words[i + 1 : i + 2] == ["-m"] and len(words) > i + 2:
            name, start = words[i + 2], i + 3
        elif name.startswith("runs-"):
            start = i + 1
        else:
            continue
        given = []
        for argument in words[start:]:
            if argument in SEPARATORS:
                break
            flag = argument.strip("[],").partition("=")[0]
            if flag.startswith("--") and flag != "--help":
                given.append(flag)
        yield name, given


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_flag_given_to_a_project_command_is_one_it_takes(page: Path) -> None:
    unknown = [
        f"{name} {flag}"
        for words in commands(page)
        for name, given in invocations(words)
        if name in CLIS
        for flag in given
        if flag not in help_flags(CLIS[name][0])
    ]
    assert not unknown, f"{page_id(page)}: {unknown}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_module_run_with_dash_m_exists(page: Path) -> None:
    named = {name for words in commands(page) for name, _ in invocations(words)}
    modules = {name for name in named if not name.startswith("runs-")}
    missing = [module for module in sorted(modules) if importlib.util.find_spec(module) is None]
    assert not missing, f"{page_id(page)}: {missing}"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def console_scripts() -> set[str]:
    """The commands .venv/bin may hold: the project's scripts, and those of the packages installed beside it
    (pytest, ruff …), never a script of an older install of the project."""
    project = canonical(PROJECT["name"])
    installed = {
        ep.name
        for ep in entry_points(group="console_scripts")
        if ep.dist and canonical(ep.dist.name) != project
    }
    return set(PROJECT["scripts"]) | installed | {"python", "python3", "pip"}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_venv_command_and_project_script_named_exists(page: Path) -> None:
    pieces = code(page)
    named = {name for piece in pieces for name in re.findall(r"\.venv/bin/([\w.-]+)", piece)}
    named |= {name for piece in pieces for name in re.findall(r"(?<![\w./-])(runs-[a-z-]+)(?![\w.-])", piece)}
    unknown = sorted(named - console_scripts())
    assert not unknown, f"{page_id(page)}: {unknown} (pyproject.toml's scripts: {sorted(PROJECT['scripts'])})"


@cache
def makefile() -> tuple[frozenset[str], str]:
    """The targets of the Makefile's rules, and its text."""
    source = (ROOT / "Makefile").read_text()
    rules = re.findall(r"^([A-Za-z0-9_.%/-]+(?:[ \t]+[A-Za-z0-9_.%/-]+)*)[ \t]*::?(?!=)", source, re.M)
    return frozenset(target for rule in rules for target in rule.split()), source


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_make_target_and_variable_named_is_in_the_makefile(page: Path) -> None:
    targets, source = makefile()
    problems = []
    for piece in code(page):
        for match in MAKE.finditer(piece):
            if match[1] not in targets:
                problems.append(f"make {match[1]}: no such target")
            for variable in re.findall(r"([A-Z][A-Z0-9_]*)=", match[2]):
                if f"$({variable})" not in source and f"${{{variable}}}" not in source:
                    problems.append(f"make {match[1]} {variable}=: the Makefile never reads {variable}")
    assert not problems, f"{page_id(page)}: {problems}"


@cache
def ignored() -> tuple[str, ...]:
    return tuple(line.strip() for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip())


def is_ignored(path: str) -> bool:
    """Whether git ignores `path` (the patterns of .gitignore this repository uses: a name anywhere, or a
    directory from the root)."""
    parts = path.rstrip("/").split("/")
    for pattern in ignored():
        name = pattern.rstrip("/")
        if "/" in name and (path.rstrip("/") + "/").startswith(name + "/"):
            return True
        if "/" not in name and any(Path(part).match(name) for part in parts):
            return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_path_named_exists(page: Path) -> None:
    paths = {path.rstrip(".") for piece in code(page) for path in PATH.findall(piece)}
    missing = sorted(
        path
        for path in paths
        if not (list(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()) and not is_ignored(path)
    )
    assert not missing, f"{page_id(page)}: {missing}"


def test_the_tests_page_names_every_test_file_and_only_those() -> None:
    named = {
        name.removeprefix("tests/")
        for span in spans(ROOT / "docs" / "testing.md")
        for name in re.findall(r"(?<![\w*])(?:tests/)?test_[\w*]+\.py", span)
    }
    files = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    missing = [name for name in named if not any(Path(file).match(name) for file in files)]
    unnamed = [file for file in files if not any(Path(file).match(name) for name in named)]
    assert not missing, f"docs/testing.md names test files that do not exist: {missing}"
    assert not unnamed, f"docs/testing.md does not say what these prove: {sorted(unnamed)}"


# --- The RPC table ------------------------------------------------------------------------------------------


def methods(module: Any) -> set[str]:
    return set(module.DESCRIPTOR.services_by_name["RunsService"].methods_by_name)


def rest_call(cell: str) -> tuple[str, str] | None:
    """The HTTP method and path that open a REST call cell, if it opens with them."""
    match = re.match(r"`(GET|POST) ([^`]+)`", cell)
    return (match[1], match[2]) if match else None


def route_of(rpc: str, routes: dict[str, Route]) -> Route:
    return routes[rpc] if rpc in routes else WATCHES_V2[rpc].poll


def same_path(documented: str, path: str) -> bool:
    return documented == path or (documented.startswith("...") and path.endswith(documented[3:]))


def test_the_readme_rpc_table_lists_every_rpc_of_both_services_with_its_route() -> None:
    rows = table(README, "| RPC | REST call | answer |")
    names = {ticked(name)[0]: "(v2 only)" in name for name, _, _ in rows}
    assert set(names) == methods(v2)
    assert {rpc for rpc, only in names.items() if only} == methods(v2) - methods(v1)
    for name, call, _ in rows:
        rpc, documented = ticked(name)[0], rest_call(call)
        assert documented, f"{rpc}: the REST call cell opens with `METHOD /path`"
        route = route_of(rpc, ROUTES_V2)
        assert documented[0] == route.method, rpc
        assert same_path(documented[1], route.path), f"{rpc}: {documented[1]} is not {route.path}"


def test_the_full_rpc_table_gives_each_v1_route_and_its_fields() -> None:
    rows = table(ROOT / "docs" / "rpcs.md", "| RPC | REST call | answer |")
    assert {ticked(name)[0] for name, _, _ in rows} == methods(v1)
    for name, call, _ in rows:
        rpc = ticked(name)[0]
        route, documented = route_of(rpc, ROUTES), rest_call(call)
        assert documented == (route.method, route.path), rpc
        fields = re.match(r"`[^`]+` \(([a-z_, ]+)\)", call)
        if fields:
            assert fields[1].split(", ") in (list(route.body), list(route.query)), rpc


# --- Examples -----------------------------------------------------------------------------------------------

EXAMPLES = [(page, body) for page in PAGES for language, body in fences(page) if language == "python"]
SCRIPTS = [(page, body) for page in PAGES for language, body in fences(page) if language == "js"]


@pytest.mark.parametrize(("page", "example"), EXAMPLES, ids=[page_id(page) for page, _ in EXAMPLES])
def test_each_python_example_compiles_and_its_imports_resolve(page: Path, example: str) -> None:
    tree = ast.parse(example, filename=page_id(page))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(("page", "example"), SCRIPTS, ids=[page_id(page) for page, _ in SCRIPTS])
def test_each_javascript_example_parses(page: Path, example: str, tmp_path: Path) -> None:
    script = tmp_path / "example.js"
    script.write_text(f"(async () => {{\n{example}\n}});\n")  # an example is the body of an async function
    done = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{page_id(page)}: {done.stderr}"
