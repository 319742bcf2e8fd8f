#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb (`make readme`): nbdev_readme needs Quarto, which these machines lack.

Markdown cells are copied as they are; code cells become ```python blocks followed by their text outputs;
Markdown outputs are relinked like Markdown cells;
cells marked `#| hide` (or otherwise not shown in the docs: `#| export`, `#| include: false`) are skipped;
relative links are rewritten from nbs/ to the repository root. tests/test_readme.py checks README.md is in sync.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT/'nbs'/'index.ipynb'
HEADER = '<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n\n'
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_re_link = re.compile(r'(!?\[[^\]\n]*\]\()([^)\s]+)((?:\s+"[^"]*")?\))')
_re_img = re.compile(r'(<img\b[^>]*\bsrc=")([^"]+)(")')
_HIDDEN = {'hide', 'export', 'exporti', 'default_exp'}


def _src(cell):
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


def _relink(md, nb_dir):
    "Rewrite relative link and image targets of a markdown text from `nb_dir` to the repository root."
    def fix(t):
        if re.match(r'^[a-zA-Z][\w+.-]*:|^#|^/', t): return t
        path, sep, frag = t.partition('#')
        p = (nb_dir/path).resolve()
        return (p.relative_to(ROOT).as_posix() if p.is_relative_to(ROOT) else t) + sep + frag
    md = _re_link.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), md)
    return _re_img.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), md)


def _text_outputs(cell):
    "The text a reader would see under a code cell (streams, plain results, markdown results)."
    parts = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': parts.append(('text', _src({'source': o.get('text', '')})))
        elif o.get('output_type') in ('execute_result', 'display_data'):
            d = o.get('data', {})
            if 'text/markdown' in d: parts.append(('md', _src({'source': d['text/markdown']})))
            elif 'text/plain' in d: parts.append(('text', _src({'source': d['text/plain']})))
    return parts


def readme(index=INDEX):
    "The text of README.md made from the notebook `index`."
    nb = json.loads(Path(index).read_text(encoding='utf-8'))
    blocks = []
    for cell in nb['cells']:
        src = _src(cell)
        if cell['cell_type'] == 'markdown':
            if src.strip(): blocks.append(_relink(src.strip('\n'), Path(index).parent))
            continue
        if cell['cell_type'] != 'code': continue
        lines, opts = src.split('\n'), {}
        while lines and (m := _re_directive.match(lines[0])):
            opts[m.group(1)] = m.group(2).lower(); lines.pop(0)
        if opts.keys() & _HIDDEN or opts.get('include') == 'false': continue
        code = '\n'.join(lines).strip('\n')
        if code and opts.get('echo') != 'false': blocks.append(f"```python\n{code}\n```")
        if opts.get('output') == 'false': continue
        for kind, text in _text_outputs(cell):
            text = text.rstrip('\n')
            if text: blocks.append(_relink(text, Path(index).parent) if kind == 'md' else f"```\n{text}\n```")
    return HEADER + '\n\n'.join(blocks) + '\n'


if __name__ == '__main__':
    out = ROOT/'README.md'
    text = readme()
    if out.exists() and out.read_text(encoding='utf-8') == text: print("README.md is up to date"); sys.exit(0)
    out.write_text(text, encoding='utf-8')
    print(f"wrote README.md from {INDEX.relative_to(ROOT)}")
