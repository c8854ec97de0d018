"""Scala and Java source text as tokens, for reading Spark's setting definitions.

Enough of both languages for builder chains, constants and enumerations: identifiers, numbers,
operators, string literals (with ``s"..."`` interpolation and triple quotes), comments (Scala's
nest). Not a full lexer: what it does not know it skips.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["ident", "op", "punct", "string", "interp", "number", "char"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    line: int
    # strings: the decoded text; interpolated strings: literal parts and ("$", expression)
    value: tuple[str | tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SourceFile:
    path: str  # inside its jar, e.g. org/apache/spark/internal/config/package.scala
    text: str


_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*|`[^`\n]+`")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+[lL]?|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9]+)?[fFdDlL]?"
)
_OPERATOR = re.compile(r"[!#%&*+\-/:<=>?@\\^|~]+")
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


# One pattern for everything but strings and block comments, which the lexer walks itself.
_SIMPLE = re.compile(
    r"(?P<space>\s+)|(?P<line>//[^\n]*)|(?P<block>/\*)|(?P<quote>\")|(?P<char>')"
    rf"|(?P<ident>{_IDENT.pattern})|(?P<number>{_NUMBER.pattern})"
    rf"|(?P<punct>[()\[\]{{}},;.])|(?P<op>{_OPERATOR.pattern})"
)
_SIMPLE_KINDS: Mapping[str, TokenKind] = {"number": "number", "punct": "punct", "op": "op"}
_COMMENT_MARK = re.compile(r"/\*|\*/")
_STRING_RUN = re.compile(r'[^"\\$\n]+')


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.line = 1

    def tokens(self) -> Iterator[Token]:
        text = self.text
        while self.at < len(text):
            match = _SIMPLE.match(text, self.at)
            if match is None:
                self.at += 1  # e.g. a stray unicode arrow: not part of anything read here
                continue
            kind = match.lastgroup
            if kind == "quote":
                yield self._string(interpolated=False)
            elif kind == "char":
                yield self._char()
            elif kind == "block":
                self._block_comment()
            elif kind in ("space", "line"):
                self.line += match[0].count("\n")
                self.at = match.end()
            elif kind == "ident" and text.startswith('"', match.end()) and match[0][0] != "`":
                self.at = match.end()
                yield self._string(interpolated=match[0] != "raw", prefix=match[0])
            else:
                self.at = match.end()
                simple: TokenKind = "ident" if kind == "ident" else _SIMPLE_KINDS[kind or ""]
                yield Token(simple, match[0].strip("`") if kind == "ident" else match[0], self.line)

    def _block_comment(self) -> None:
        # Scala's block comments nest.
        depth, start = 1, self.at
        self.at += 2
        while depth:
            mark = _COMMENT_MARK.search(self.text, self.at)
            if mark is None:
                self.at = len(self.text)
                break
            depth += 1 if mark[0] == "/*" else -1
            self.at = mark.end()
        self.line += self.text.count("\n", start, self.at)

    def _char(self) -> Token:
        match = re.compile(r"'(?:\\u[0-9a-fA-F]{4}|\\.|[^\\'\n])'").match(self.text, self.at)
        if match is None:  # a Scala symbol literal such as 'name
            self.at += 1
            return Token("op", "'", self.line)
        self.at = match.end()
        return Token("char", match[0], self.line)

    def _string(self, *, interpolated: bool, prefix: str = "") -> Token:
        text, line = self.text, self.line
        triple = text.startswith('"""', self.at)
        self.at += 3 if triple else 1
        parts: list[str | tuple[str, str]] = []
        literal: list[str] = []
        while self.at < len(text):
            run = _STRING_RUN.match(text, self.at)
            if run is not None and run.end() > self.at:
                literal.append(run[0])
                self.line += run[0].count("\n")
                self.at = run.end()
                continue
            char = text[self.at]
            if triple and text.startswith('"""', self.at):
                # the closing quotes are the last three of a run: extra ones belong to the text
                end = self.at + 3
                while end < len(text) and text[end] == '"':
                    end += 1
                literal.append(text[self.at : end - 3])
                self.at = end
                break
            if not triple and char == '"':
                self.at += 1
                break
            if char == "\n":
                self.line += 1
            if char == "\\" and not triple and prefix != "raw":
                escape = text[self.at + 1 : self.at + 2]
                if escape == "u" and re.fullmatch(
                    r"[0-9a-fA-F]{4}", text[self.at + 2 : self.at + 6]
                ):
                    literal.append(chr(int(text[self.at + 2 : self.at + 6], 16)))
                    self.at += 6
                else:
                    literal.append(_ESCAPES.get(escape, "\\" + escape))
                    self.at += 2
                continue
            if interpolated and char == "$":
                self._interpolation(parts, literal)
                continue
            literal.append(char)
            self.at += 1
        parts.append("".join(literal))
        kind: TokenKind = "interp" if interpolated else "string"
        return Token(kind, prefix, line, tuple(part for part in parts if part != ""))

    def _interpolation(self, parts: list[str | tuple[str, str]], literal: list[str]) -> None:
        text = self.text
        following = text[self.at + 1 : self.at + 2]
        if following == "$":
            literal.append("$")
            self.at += 2
            return
        parts.append("".join(literal))
        literal.clear()
        if following == "{":
            depth, start = 1, self.at + 2
            end = start
            while end < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            parts.append(("$", text[start : end - 1]))
            self.at = end
        else:
            match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, self.at + 1)
            name = match[0] if match else ""
            parts.append(("$", name))
            self.at += 1 + len(name)


def tokenize(text: str) -> list[Token]:
    return list(_Lexer(text).tokens())


def closing(tokens: Sequence[Token], start: int) -> int:
    """The index of the bracket that closes the one at ``start``."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opening = tokens[start].text
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind != "punct":
            continue
        if token.text == opening:
            depth += 1
        elif token.text == pairs[opening]:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening!r} on line {tokens[start].line}")


def split_args(tokens: Sequence[Token]) -> tuple[tuple[Token, ...], ...]:
    """The tokens between a pair of parentheses, split at the commas of their own level."""
    args: list[tuple[Token, ...]] = []
    current: list[Token] = []
    depth = 0
    for token in tokens:
        if token.kind == "punct" and token.text in "([{":
            depth += 1
        elif token.kind == "punct" and token.text in ")]}":
            depth -= 1
        if depth == 0 and token.kind == "punct" and token.text == ",":
            args.append(tuple(current))
            current = []
        else:
            current.append(token)
    if current or args:
        args.append(tuple(current))
    return tuple(args)


def is_token(token: Token | None, kind: TokenKind, text: str) -> bool:
    return token is not None and token.kind == kind and token.text == text


def string_value(token: Token) -> str:
    return "".join(part for part in token.value if isinstance(part, str))


def text_of(tokens: Sequence[Token]) -> str:
    return "".join(token.text for token in tokens)


def dotted(tokens: Sequence[Token]) -> list[str] | None:
    """``a.b.C`` as its parts, or ``None`` when the tokens are not a plain qualified name."""
    if not tokens or len(tokens) % 2 == 0:
        return None
    names = [token.text for token in tokens[::2]]
    idents = all(token.kind == "ident" for token in tokens[::2])
    dots = all(is_token(token, "punct", ".") for token in tokens[1::2])
    return names if idents and dots else None
