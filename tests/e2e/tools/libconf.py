"""libconf.py - a small reader of libconfig files for the end-to-end tests.

The tests build their lab from the configuration itself (zones, interfaces,
networks, conduits), so they need to read any segd.conf, not one file. This
follows the libconfig grammar (settings 'name = value;' or 'name : value',
groups {}, lists (), arrays [], strings with adjacent concatenation, integers
decimal/hex with optional L, floats, booleans, #, // and /* */ comments).
@include is not followed (segd's tests never use it).

Groups become dicts with the extra keys '__line__' (line of the '{') and
'__span__' (start, end offsets in the text, end after the '}'), so that a test
can cut one conduit out of a copy of the file (see drop_group).
"""
import re

_TOKEN = re.compile(r'''
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<float>[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+)
  | (?P<int>[-+]?(?:0[xX][0-9a-fA-F]+|\d+)L{0,2})
  | (?P<bool>\b(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\b)
  | (?P<name>[A-Za-z\*][-A-Za-z0-9_\*]*)
  | (?P<punct>[=:;,\[\]\(\)\{\}])
''', re.X | re.S)

_ESC = {'n': '\n', 't': '\t', 'r': '\r', 'f': '\f', '\\': '\\', '"': '"'}


class ConfigError(Exception):
    pass


def _unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            n = s[i + 1]
            if n == 'x' and i + 3 < len(s):
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(_ESC.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def _tokenize(text):
    pos, line, toks = 0, 1, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConfigError('line %d: cannot read %r' % (line, text[pos:pos + 20]))
        kind = m.lastgroup
        if kind not in ('ws', 'comment'):
            toks.append((kind, m.group(), line, m.start(), m.end()))
        line += m.group().count('\n')
        pos = m.end()
    toks.append(('eof', '', line, pos, pos))
    return toks


class _Parser:
    def __init__(self, text):
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self, want=None):
        t = self.toks[self.i]
        if want is not None and t[1] != want:
            raise ConfigError('line %d: expected %r, found %r' % (t[2], want, t[1]))
        self.i += 1
        return t

    def settings(self, end):
        group = {}
        while self.peek()[1] != end and self.peek()[0] != 'eof':
            name = self.take()
            if name[0] != 'name':
                raise ConfigError('line %d: expected a setting name, found %r' % (name[2], name[1]))
            if self.peek()[1] not in ('=', ':'):
                raise ConfigError('line %d: expected = after %s' % (name[2], name[1]))
            self.take()
            group[name[1]] = self.value()
            if self.peek()[1] in (';', ','):
                self.take()
        return group

    def value(self):
        t = self.peek()
        if t[1] == '{':
            start = self.take()
            g = self.settings('}')
            end = self.take('}')
            g['__line__'] = start[2]
            g['__span__'] = (start[3], end[4])
            return g
        if t[1] in ('(', '['):
            close = ')' if t[1] == '(' else ']'
            self.take()
            items = []
            while self.peek()[1] != close:
                items.append(self.value())
                if self.peek()[1] == ',':
                    self.take()
            self.take(close)
            return items
        return self.scalar()

    def scalar(self):
        t = self.take()
        if t[0] == 'string':
            s = _unescape(t[1][1:-1])
            while self.peek()[0] == 'string':
                s += _unescape(self.take()[1][1:-1])
            return s
        if t[0] == 'int':
            return int(t[1].rstrip('L'), 0)
        if t[0] == 'float':
            return float(t[1])
        if t[0] == 'bool':
            return t[1].lower() == 'true'
        raise ConfigError('line %d: unexpected %r' % (t[2], t[1]))


def loads(text):
    p = _Parser(text)
    root = p.settings(None)
    if p.peek()[0] != 'eof':
        t = p.peek()
        raise ConfigError('line %d: unexpected %r' % (t[2], t[1]))
    return root


def load(path):
    with open(path, encoding='utf-8') as f:
        return loads(f.read())


def drop_group(text, group):
    """The text without one group (parsed from this text) and the comma that
    separated it from its neighbour."""
    start, end = group['__span__']
    tail = text[end:]
    m = re.match(r'\s*,', tail)
    if m:
        return text[:start] + tail[m.end():]
    head = text[:start]
    # the separating comma may be followed by comments before the group
    m = re.search(r',(?:\s|#[^\n]*\n|//[^\n]*\n)*$', head)
    if m:
        return head[:m.start()] + tail
    return head + tail
