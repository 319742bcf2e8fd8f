#!/usr/bin/env python
"""Build and check the hawcnb documentation site offline, without Quarto.

    python .ci/docs.py build    # `make docs`: nbs/ -> _proc/ -> _build/docs/src/ -> _docs/
    python .ci/docs.py check    # `make docs-check`: internal links and anchors, screenshots in _docs/screenshots/

The build:
1. nbdev's own notebook processing (`nbdev.serve.proc_nbs`, the step `nbdev_docs` runs before Quarto) writes
   processed notebooks to `_proc/`: `#| hide` and `#| export` cells removed, `show_doc` cells added after every
   exported function (signature, docstring, docments table), backticked names linked, the title and summary
   moved to front matter.
2. Those notebooks are rearranged for Sphinx in `_build/docs/src/`: pages named as nbdev names them
   (`00_core.ipynb` -> `core.html`), the front matter turned back into a title, Quarto cell options
   (`#| echo: false` ...) turned into myst-nb cell tags, local images copied, and the table of contents added
   to the home page (`nbs/index.ipynb`) in notebook order. An API reference (autodoc of every module of
   `hawcnb/`, exported names only, with the inline parameter comments) is generated beside them.
3. Sphinx with myst-nb (execution off: the notebooks' stored outputs, plots included) and sphinx-book-theme
   renders `_docs/`; nbdev's links to the future public site are made relative.
"""
import json, os, re, shutil, subprocess, sys, time
from configparser import ConfigParser
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT/'.ci'/'docs'
PROC, BUILD, OUT = ROOT/'_proc', ROOT/'_build'/'docs', ROOT/'_docs'
SRC = BUILD/'src'
_cfg = ConfigParser(delimiters=['='])
_cfg.read(ROOT/'settings.ini', encoding='utf-8')
CFG = _cfg['DEFAULT']
SITE = CFG['doc_host'].rstrip('/') + '/' + CFG['doc_baseurl'].strip('/') + '/'   # nbdev's links point here


def notebooks():
    "The notebooks of nbs/ that get a page, as paths relative to nbs/, in notebook order (top level first)."
    nbs = ROOT/'nbs'
    found = [p.relative_to(nbs) for p in nbs.rglob('*.ipynb')
             if not any(part.startswith(('.', '_')) for part in p.relative_to(nbs).parts)]
    return sorted(found, key=lambda p: (len(p.parts) > 1, p.parent.as_posix(), p.name))


def page_name(rel):
    "nbdev's page name of a notebook: `00_core.ipynb` -> `core`, `12_pixelcnn.layers.ipynb` -> `pixelcnn.layers`."
    return (rel.parent/re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.stem)).as_posix()


# ---------------------------------------------------------------- 1. nbdev processing
def process_notebooks():
    "Run nbdev's processors over nbs/ into _proc/ (from scratch, so show_doc output matches the library)."
    from nbdev.serve import proc_nbs
    shutil.rmtree(PROC, ignore_errors=True)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try: proc_nbs(path=str(ROOT/'nbs'), n_workers=min(2, os.cpu_count() or 1), force=True)
    finally: os.chdir(cwd)


# ---------------------------------------------------------------- 2. Sphinx sources
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_re_link = re.compile(r'(!?\[[^\]\n]*\]\()([^)\s]+)((?:\s+"[^"]*")?\))')
_re_img = re.compile(r'(<img\b[^>]*\bsrc=")([^"]+)(")')
_re_source_link = re.compile(r'^\[source\]\([^)]*\)(\{[^}\n]*\})?\s*$', re.MULTILINE)
_re_doc_heading = re.compile(r'^(#{2,6}) (\S+)\s*$', re.MULTILINE)


def _src(cell):
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


def _split_directives(src):
    "Quarto/nbdev cell options at the top of a code cell (`#| echo: false`) -> ({name: value}, rest of source)."
    lines, opts = src.split('\n'), {}
    while lines and (m := _re_directive.match(lines[0])):
        opts[m.group(1)] = m.group(2).strip().strip('"\'').lower()
        lines.pop(0)
    return opts, '\n'.join(lines).strip('\n')


def _rewrite_targets(text, nb_rel, page):
    "Make relative links and images of a notebook work from its page: .ipynb links -> pages, files copied to _assets/."
    here = (ROOT/'nbs'/nb_rel).parent
    depth = len(Path(page).parts) - 1
    def fix(target):
        if re.match(r'^[a-zA-Z][\w+.-]*:|^#|^/', target): return target
        path, _, frag = target.partition('#')
        f = (here/unquote(path)).resolve()
        if f.suffix == '.ipynb' and f.is_relative_to(ROOT/'nbs'):
            new = page_name(f.relative_to(ROOT/'nbs')) + '.ipynb'
        elif f.is_file() and f.is_relative_to(ROOT):
            new = '_assets/' + f.relative_to(ROOT).as_posix()
            (SRC/new).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, SRC/new)
        else: return target
        return '../' * depth + new + ('#' + frag if frag else '')
    text = _re_link.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), text)
    return _re_img.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), text)


def _show_doc_markdown(md):
    "nbdev's show_doc markdown for Sphinx: no Quarto-only source link; an anchor with nbdev's id for each name."
    md = _re_source_link.sub('', md)
    # nbdev links names on every line, also inside the signature's code block: unlink them there
    md = re.sub(r'```.*?```', lambda m: re.sub(r'\[(`[^`\n]+`)\]\([^)\s]+\)', r'\1', m.group(0)), md, flags=re.DOTALL)
    md = re.sub(r'\A\s*---\s*\n', '<hr class="hawcnb-showdoc">\n\n', md)   # a docutils transition cannot sit in an output
    def anchor(m):
        nm = m.group(2)
        return f'<span id="{nm.lower()}"></span>\n\n{m.group(0)}' if re.fullmatch(r'[\w.]+', nm) else m.group(0)
    return _re_doc_heading.sub(anchor, md)


def convert(nb_rel):
    "Turn the processed notebook `_proc/<nb_rel>` into a myst-nb source page; returns (page name, title)."
    import yaml
    nb = json.loads((PROC/nb_rel).read_text(encoding='utf-8'))
    page, title, cells = page_name(nb_rel), nb_rel.stem, []
    for cell in nb['cells']:
        src = _src(cell)
        if cell['cell_type'] == 'raw' and src.lstrip().startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            title = str(fm.get('title') or title)
            md = f"# {title}\n"
            if fm.get('description'): md += f"\n```{{rst-class}} hawcnb-description\n```\n\n{fm['description']}\n"
            cells.append({'cell_type': 'markdown', 'id': 'hawcnb-title', 'metadata': {}, 'source': md})
            continue
        if cell['cell_type'] == 'markdown':
            if src.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            cell['source'] = _rewrite_targets(src, nb_rel, page)
        elif cell['cell_type'] == 'code':
            opts, src = _split_directives(src)
            if opts.get('include') == 'false': continue
            tags = list(cell.get('metadata', {}).get('tags', []))
            if opts.get('echo') == 'false' or not src.strip(): tags.append('remove-input')
            if opts.get('output') == 'false': tags.append('remove-output')
            cell['source'] = src
            for o in cell.get('outputs', []):
                md = o.get('data', {}).get('text/markdown')
                if md is not None:
                    o['data']['text/markdown'] = _rewrite_targets(_show_doc_markdown(''.join(md) if isinstance(md, list) else md), nb_rel, page)
            if not src.strip() and not cell.get('outputs'): continue
            cell['metadata'] = {'tags': tags} if tags else {}
        cells.append(cell)
    nb['cells'] = cells
    nb['metadata'].setdefault('kernelspec', {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'})
    nb['metadata'].setdefault('language_info', {'name': 'python'})
    dest = SRC/(page + '.ipynb')
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding='utf-8')
    return page, title


def modules():
    "Every module of the library, from `hawcnb/_modidx.py` (what nbdev exported)."
    from importlib.util import spec_from_file_location, module_from_spec
    spec = spec_from_file_location('_modidx', ROOT/CFG['lib_path']/'_modidx.py')
    m = module_from_spec(spec); spec.loader.exec_module(m)
    return sorted(m.d['syms'])


def api_pages():
    "The API reference: one autodoc page per module, and an index page; returns the page names."
    pages = []
    for mod in modules():
        (SRC/'api').mkdir(parents=True, exist_ok=True)
        (SRC/'api'/f'{mod}.md').write_text(f"# {mod}\n\n```{{eval-rst}}\n.. automodule:: {mod}\n```\n", encoding='utf-8')
        pages.append(f'api/{mod}')
    lines = ['# API reference', '',
             'Every exported function and class of the library, with its signature, its docstring and the inline '
             'comments on its parameters. Each notebook page shows the same entries next to the examples that test '
             'them; the *[source]* links show the exported code.', '',
             '```{toctree}', ':maxdepth: 1', ''] + [p.split('/', 1)[1] for p in pages] + ['```', '']
    (SRC/'api'/'index.md').write_text('\n'.join(lines), encoding='utf-8')
    return pages


def add_toc(pages):
    "Append the site's tables of contents (hidden: they become the sidebar) to the home page."
    groups = {}
    for rel, page in pages:
        if page == 'index': continue
        caption = 'Notebooks' if len(rel.parts) == 1 else rel.parent.as_posix().replace('/', ' / ').capitalize()
        groups.setdefault(caption, []).append(page)
    md = ''
    for caption, entries in groups.items():
        md += '\n```{toctree}\n:hidden:\n:caption: ' + caption + '\n\n' + '\n'.join(entries) + '\n```\n'
    md += '\n```{toctree}\n:hidden:\n:caption: Reference\n\napi/index\n```\n'
    index = SRC/'index.ipynb'
    nb = json.loads(index.read_text(encoding='utf-8'))
    nb['cells'].append({'cell_type': 'markdown', 'id': 'hawcnb-toc', 'metadata': {}, 'source': md})
    index.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding='utf-8')


def sphinx():
    "Render _build/docs/src into _docs/ with Sphinx; returns the warnings it printed."
    html = BUILD/'html'        # myst-nb keeps its files beside the output folder: build in _build/, then move
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-c', str(CONF), '-d', str(BUILD/'doctrees'), str(SRC), str(html)]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]), 'MPLBACKEND': 'Agg'}
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode: sys.exit(f"docs: sphinx-build failed (exit {r.returncode})")
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.move(html, OUT)
    return [l for l in r.stderr.splitlines() if 'WARNING' in l]


def relink():
    """nbdev links names to the public site (`doc_host`): point them at the pages of this build instead.

    A name nbdev links but no notebook shows with `show_doc` (a method, a private helper) has no anchor on its
    page: such a link goes to the name's entry in the API reference when it has one, else to the page itself."""
    from importlib.util import spec_from_file_location, module_from_spec
    spec = spec_from_file_location('_modidx', ROOT/CFG['lib_path']/'_modidx.py')
    m = module_from_spec(spec); spec.loader.exec_module(m)
    qualname = {url: q for syms in m.d['syms'].values() for q, (url, _) in syms.items()}
    ids = {}
    def page_ids(rel):
        if rel not in ids:
            p = _Page(); f = OUT/rel
            if f.exists(): p.feed(f.read_text(encoding='utf-8'))
            ids[rel] = p.ids
        return ids[rel]
    def target(url):
        page, _, anchor = url.partition('#')
        if not anchor or anchor in page_ids(page): return url
        q = qualname.get(url, '')
        for mod in mods:
            if q.startswith(mod + '.') and q in page_ids(f'api/{mod}.html'): return f'api/{mod}.html#{q}'
        return page
    mods = sorted(modules(), key=len, reverse=True)
    for f in OUT.rglob('*.html'):
        depth = len(f.relative_to(OUT).parts) - 1
        html = f.read_text(encoding='utf-8')
        new = re.sub(r'href="' + re.escape(SITE) + r'([^"]*)"', lambda m: f'href="{"../" * depth}{target(m.group(1))}"', html)
        if new != html: f.write_text(new, encoding='utf-8')


def build():
    t0 = time.time()
    process_notebooks()
    shutil.rmtree(BUILD, ignore_errors=True)
    SRC.mkdir(parents=True)
    pages = [(rel, convert(rel)[0]) for rel in notebooks() if (PROC/rel).exists()]
    if not any(p == 'index' for _, p in pages): sys.exit("docs: nbs/index.ipynb is missing: it is the home page")
    api_pages()
    add_toc(pages)
    warnings = sphinx()
    relink()
    print(f"docs: {len(pages)} notebook pages + API reference of {len(modules())} modules -> {OUT.relative_to(ROOT)}/ "
          f"in {time.time() - t0:.0f} s ({len(warnings)} Sphinx warnings)")


# ---------------------------------------------------------------- check: links and screenshots
class _Page(HTMLParser):
    def __init__(self):
        super().__init__(); self.ids, self.links = set(), []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for k in ('href', 'src'):
            if a.get(k) and not (tag == 'link' and k == 'href' and 'preload' in (a.get('rel') or '')): self.links.append(a[k])


def broken_links(site=OUT):
    "Internal links and anchors of the built site that lead nowhere: [(page, target)]."
    pages = {}
    for f in site.rglob('*.html'):
        if f.relative_to(site).parts[0] == '_static': continue      # theme template fragments, not pages
        p = _Page(); p.feed(f.read_text(encoding='utf-8')); pages[f.resolve()] = p
    bad = []
    for f, p in pages.items():
        for link in p.links:
            u = urlsplit(link)
            if u.scheme or link.startswith('//') or link.startswith(('mailto:', 'javascript:', 'data:')): continue
            target = (f.parent/unquote(u.path)).resolve() if u.path else f
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): bad.append((f, link)); continue
            if u.fragment and target in pages and unquote(u.fragment) not in pages[target].ids:
                bad.append((f, link))
    return [(str(f.relative_to(site.resolve())), l) for f, l in bad]


def chromium():
    return shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')


def screenshot(page, png, size=(1400, 1000)):
    "A PNG of `page` (a file of the built site) taken by headless Chromium."
    import tempfile
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars',
               '--disable-background-networking', '--disable-component-update', '--disable-sync',
               f'--user-data-dir={profile}', f'--window-size={size[0]},{size[1]}', '--virtual-time-budget=4000',
               f'--screenshot={png}', page.resolve().as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if not png.exists(): sys.exit(f"docs: chromium made no screenshot of {page}:\n{r.stderr[-2000:]}")


def check():
    if not (OUT/'index.html').exists(): sys.exit("docs: _docs/ is not built: run `make docs` first")
    bad = broken_links()
    for page, link in bad: print(f"docs: broken link in {page}: {link}", file=sys.stderr)
    n = len([f for f in OUT.rglob('*.html') if f.relative_to(OUT).parts[0] != '_static'])
    if bad: sys.exit(f"docs: {len(bad)} broken internal links in {n} pages")
    print(f"docs: {n} pages, every internal link and anchor resolves")
    if not chromium(): sys.exit("docs: no headless Chromium: install the Debian package (apt-get install chromium)")
    shots = {'home.png': OUT/'index.html', 'api_core.png': OUT/'api'/'hawcnb.core.html', 'notebook_core.png': OUT/'core.html'}
    for name, page in shots.items():
        screenshot(page, OUT/'screenshots'/name)
    print(f"docs: screenshots in {(OUT/'screenshots').relative_to(ROOT)}/: {', '.join(shots)}")


if __name__ == '__main__':
    cmds = {'build': build, 'check': check}
    if len(sys.argv) != 2 or sys.argv[1] not in cmds: sys.exit(f"usage: {sys.argv[0]} build|check")
    cmds[sys.argv[1]]()
