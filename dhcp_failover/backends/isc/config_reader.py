"""Read an ISC dhcpd.conf into a tree of statements, following its includes when asked to.

Only the shape is read here (statements end at ';' or are a header with a '{ ... }' block);
what the statements mean is the importer's business. Every refusal is one ``ConfigImportError``
line naming where the file went wrong: not a dhcpd.conf, too large, an include loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigImportError
from ...messages import excerpt

MAX_INPUT = 2 * 1024 * 1024  # for a file and everything it includes: real ones are kilobytes
MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True)
class Token:
    text: str
    line: int
    quoted: bool = False
    origin: str = ""  # the include that brought it in, as the file spelled it; "" for the file itself


@dataclass
class Statement:
    line: int
    words: list[Token]
    block: list[Statement] | None = None

    @property
    def head(self) -> list[str]:
        return [t.text for t in self.words]

    @property
    def origin(self) -> str:
        return self.words[0].origin if self.words else ""

    def source(self) -> str:
        shown = " ".join(f'"{t.text}"' if t.quoted else t.text for t in self.words).replace(" , ", ", ")
        shown += " { ... }" if self.block is not None else ";"
        return f"(in {self.origin}) {shown}" if self.origin else shown


_TOKEN = re.compile(r'\s+|#[^\n]*|"((?:[^"\\\n]|\\.)*)"|([{};,=()!])|([^\s{};,=()!"#]+)')


def tokenize(text: str, origin: str = "") -> list[Token]:
    tokens, line, pos = [], 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ConfigImportError(f"line {line}: cannot read {excerpt(text[pos:pos + 20])}; is this a dhcpd.conf?")
        chunk = match.group(0)
        if match.group(1) is not None:
            tokens.append(Token(match.group(1), line, quoted=True, origin=origin))
        elif match.group(2) or match.group(3):
            tokens.append(Token(chunk, line, origin=origin))
        line += chunk.count("\n")
        pos = match.end()
    return tokens


def parse(tokens: list[Token]) -> list[Statement]:
    """Statements end at ';' or are a header followed by a '{ ... }' block."""
    root: list[Statement] = []
    stack: list[list[Statement]] = [root]
    words: list[Token] = []
    for token in tokens:
        if token.quoted:
            words.append(token)
        elif token.text == ";":
            if words:
                stack[-1].append(Statement(words[0].line, words))
            words = []
        elif token.text == "{":
            statement = Statement(words[0].line if words else token.line, words, [])
            stack[-1].append(statement)
            stack.append(statement.block)  # type: ignore[arg-type]
            words = []
        elif token.text == "}":
            if words:
                stack[-1].append(Statement(words[0].line, words))
                words = []
            if len(stack) == 1:
                raise ConfigImportError(f"line {token.line}: '}}' without a matching '{{'; is this a dhcpd.conf?")
            stack.pop()
        else:
            words.append(token)
    if len(stack) > 1 or words:
        raise ConfigImportError("the file ends inside a block or statement; is this a dhcpd.conf?")
    return root


def read_text(data: bytes, name: str) -> str:
    """A file's bytes as text, or one error line saying why they are not a dhcpd.conf."""
    name = f"{name} " if name else ""
    if len(data) > MAX_INPUT:
        raise ConfigImportError(f"{name}is larger than {MAX_INPUT // (1024 * 1024)} MB; a dhcpd.conf is far smaller")
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ConfigImportError(f"{name}is not UTF-8 text; is this a dhcpd.conf?") from None
    if "\x00" in text:
        raise ConfigImportError(f"{name}holds NUL bytes, so it is binary; is this a dhcpd.conf?")
    return text


@dataclass
class Includes:
    """How ``include "FILE";`` is followed: relative names from the including file's folder,
    absolute ones under ``root`` (``/`` on the server itself; a copy's folder elsewhere)."""

    root: Path
    budget: int = MAX_INPUT
    chain: list[Path] = field(default_factory=list)

    def expand(self, statements: list[Statement], folder: Path) -> list[Statement]:
        """``statements`` with each include whose file exists replaced by that file's statements;
        an include whose file is missing stays, for the importer to list."""
        out: list[Statement] = []
        for statement in statements:
            head = statement.head
            if head[:1] == ["include"] and len(statement.words) == 2 and statement.words[1].quoted:
                out.extend(self._included(statement, folder))
            elif statement.block is not None:
                out.append(Statement(statement.line, statement.words, self.expand(statement.block, folder)))
            else:
                out.append(statement)
        return out

    def resolve(self, name: str, folder: Path) -> Path:
        path = Path(name)
        return self.root / path.relative_to(path.anchor) if path.is_absolute() else folder / path

    def _included(self, statement: Statement, folder: Path) -> list[Statement]:
        name = statement.words[1].text
        where = f"line {statement.line}" + (f" of {statement.origin}" if statement.origin else "")
        path = self.resolve(name, folder)
        if not path.exists():
            return [statement]
        real = path.resolve()
        if real in self.chain:
            loop = " -> ".join(p.name for p in [*self.chain, real])
            raise ConfigImportError(f"{where}: include {excerpt(name)} makes a loop ({loop}); dhcpd would never finish reading")
        if len(self.chain) >= MAX_INCLUDE_DEPTH:
            raise ConfigImportError(f"{where}: includes nest deeper than {MAX_INCLUDE_DEPTH} files")
        if not path.is_file():
            raise ConfigImportError(f"{where}: include {excerpt(name)} is not a regular file")
        try:
            data = path.read_bytes()[: self.budget + 1]
        except OSError as exc:
            raise ConfigImportError(f"{where}: cannot read include {excerpt(name)}: {exc.strerror}") from None
        self.budget -= len(data)
        if self.budget < 0:
            raise ConfigImportError(f"{where}: with its includes the configuration is larger than "
                                    f"{MAX_INPUT // (1024 * 1024)} MB; a dhcpd.conf is far smaller")
        text = read_text(data, f"include {excerpt(name)} ({where})")
        self.chain.append(real)
        try:
            tree = parse(tokenize(text, origin=name))
        except ConfigImportError as exc:
            raise ConfigImportError(f"include {excerpt(name)} ({where}): {exc}") from None
        try:
            return self.expand(tree, path.parent)
        finally:
            self.chain.pop()



def read_file(path: Path, include_root: Path | None = None) -> list[Statement]:
    """The statements of the dhcpd.conf at ``path``; with ``include_root``, its includes followed."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT:
            raise ConfigImportError(f"is larger than {MAX_INPUT // (1024 * 1024)} MB; a dhcpd.conf is far smaller")
        data = path.read_bytes()[: MAX_INPUT + 1]
    except OSError as exc:
        raise ConfigImportError(f"cannot be read: {exc.strerror}") from None
    tree = parse(tokenize(read_text(data, "")))
    if include_root is None:
        return tree
    includes = Includes(include_root, budget=MAX_INPUT - len(data), chain=[path.resolve()])
    return includes.expand(tree, path.parent)
