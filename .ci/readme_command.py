"""Print README.md's Nth set-up command (1-based): the Nth line of the first ```sh block under "## Set up"."""

import pathlib
import sys


def commands(readme: str) -> list[str]:
    text = readme.split("## Set up", 1)[1]
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip() and not line.lstrip().startswith("#")]


if __name__ == "__main__":
    n = int(sys.argv[1])
    print(commands(pathlib.Path("README.md").read_text(encoding="utf-8"))[n - 1])
