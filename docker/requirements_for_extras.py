"""Print the requirements an image installs, read from pyproject.toml (the one source of truth).

The images install the project itself with ``pip install --no-deps .`` after installing these:
that keeps a volunteer node or the bot free of the server's dependencies (Django, Celery...),
which a plain ``pip install '.[worker]'`` would pull in with the base install.

    python requirements_for_extras.py --base            # the server
    python requirements_for_extras.py --extras bot      # the Discord bot
    python requirements_for_extras.py --extras worker,local-llm
"""

import argparse
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: dict, *, base: bool, extras: list[str]) -> list[str]:
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {', '.join(unknown)}; known: {', '.join(optional)}")
    chosen = list(project["dependencies"]) if base else []
    for extra in extras:
        chosen.extend(optional[extra])
    return list(dict.fromkeys(chosen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--base", action="store_true", help="include [project].dependencies")
    parser.add_argument("--extras", default="", help="comma-separated optional-dependency groups")
    args = parser.parse_args(argv)
    extras = [extra.strip() for extra in args.extras.split(",") if extra.strip()]
    if not args.base and not extras:
        parser.error("nothing to print: pass --base and/or --extras")
    with args.pyproject.open("rb") as file:
        lines = requirements(tomllib.load(file), base=args.base, extras=extras)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
