"""Just enough Dockerfile and .dockerignore parsing to check the images without a Docker engine."""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """CMD/ENTRYPOINT/RUN arguments: the JSON array form, or the shell form split."""
        text = self.arguments.strip()
        if text.startswith("["):
            return json.loads(text)
        return shlex.split(text)

    def flags_and_values(self) -> tuple[dict[str, str], list[str]]:
        """COPY/ADD: the --flags, then the sources and destination."""
        flags, values = {}, []
        for token in shlex.split(self.arguments):
            if token.startswith("--") and not values:
                name, _, value = token[2:].partition("=")
                flags[name] = value
            else:
                values.append(token)
        return flags, values


@dataclass
class Stage:
    image: str
    name: str | None
    args: dict[str, str]
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def expand(self, text: str) -> str:
        return _VARIABLE.sub(lambda m: self.args.get(m.group(1) or m.group(2), m.group(0)), text)


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse_dockerfile(path: Path) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG":
            name, has_default, default = arguments.strip().partition("=")
            if not stages:
                global_args[name] = default.strip().strip('"')
            else:  # a stage sees a global ARG only when it declares it again
                value = default if has_default else global_args.get(name, "")
                stages[-1].args[name] = value.strip().strip('"')
            continue
        if keyword == "FROM":
            parts = arguments.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            image = Stage(image="", name=None, args=global_args).expand(parts[0])
            stage = Stage(image=image, name=name, args={})
            stages.append(stage)
            continue
        stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def _ignore_pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex + "(?:/.*)?")


def dockerignored(relative_path: str, dockerignore: Path) -> bool:
    """Whether the build context leaves this path out (last matching rule wins, ! re-includes)."""
    ignored = False
    for raw in dockerignore.read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        if _ignore_pattern(pattern).fullmatch(relative_path):
            ignored = not negated
    return ignored
