"""Sphinx configuration of the hawcnb documentation site (built by `.ci/docs.py`, never by hand).

The sources are nbdev's processed notebooks (`_proc/`), rearranged by `.ci/docs.py` into `_build/docs/src/`;
myst-nb renders them with their stored outputs (no execution), sphinx-book-theme lays out the site.
"""
import configparser, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
_cfg = configparser.ConfigParser(delimiters=['='])
_cfg.read(ROOT/'settings.ini', encoding='utf-8')
_cfg = _cfg['DEFAULT']

project = _cfg['title']
author = _cfg['author']
copyright = _cfg['copyright']
release = version = _cfg['version']

extensions = ['myst_nb', 'sphinx.ext.autodoc', 'sphinx.ext.mathjax']  # no viewcode: classes re-exported by hawcnb.xcdf break its back-links; the notebooks are the source view
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints']
templates_path = []
html_static_path = [str(Path(__file__).parent/'_static')]
html_css_files = ['hawcnb.css']

# math: MathJax 2 from the `jupyter-server-mathjax` package (a dev requirement), so pages show formulas offline;
# without that package, Sphinx's default (MathJax from its CDN)
try:
    import jupyter_server_mathjax, shutil
    _mj, _dest = Path(jupyter_server_mathjax.__file__).parent/'static', ROOT/'_build'/'docs'/'static'
    if not (_dest/'mathjax'/'MathJax.js').exists():
        shutil.copytree(_mj, _dest/'mathjax', dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if Path(d).name == 'localization' and n != 'en'])
    html_static_path.append(str(_dest))
    mathjax_path = 'mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full'
    mathjax2_config = {'tex2jax': {'inlineMath': [['\\(', '\\)']], 'displayMath': [['\\[', '\\]']],
                                   'processEscapes': True, 'processClass': 'math|output_area', 'ignoreClass': 'document'},
                       'HTML-CSS': {'availableFonts': [], 'webFont': 'STIX-Web', 'imageFont': None},
                       'showMathMenu': False, 'messageStyle': 'none'}
except ImportError:
    pass

# notebooks: stored outputs only; training is never re-run to build the docs
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'     # show_doc's markdown output is parsed like a markdown cell
nb_merge_streams = True
myst_enable_extensions = ['colon_fence', 'dollarmath', 'amsmath', 'deflist', 'html_image', 'html_admonition']
myst_heading_anchors = 3
suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type']

# API reference: autodoc over the exported modules (`__all__`), with nbdev's docments as parameter docs
autodoc_default_options = {'members': True, 'member-order': 'bysource', 'show-inheritance': True}
autodoc_typehints = 'signature'
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False   # an override without a docstring is not documented with its parent's text
default_role = 'hawcnb-code'          # `name` in a docstring: a link when it names a documented object, else code


def _docments(app, what, name, obj, options, lines):
    "Append the inline parameter comments (nbdev docments) to an autodoc docstring, as a field list."
    if what not in ('function', 'method', 'class') or not callable(obj): return
    try:
        from fastcore.docments import docments
        d = docments(obj, full=True)
    except Exception: return
    fields = [f":param {k}: {v['docment']}" for k, v in d.items() if k != 'return' and v.get('docment')]
    if d.get('return', {}).get('docment'): fields.append(f":returns: {d['return']['docment']}")
    if fields and not any(l.startswith(':param') for l in lines): lines += [''] + fields


def _markdown_inline(app, what, name, obj, options, lines):
    "nbdev docstrings are Markdown: make its inline code and links valid reStructuredText (`FieldSpec`s, [a](b))."
    import re
    def span(m):
        after = m.string[m.end():m.end() + 1]
        return m.group(1) + ('\\ ' if m.group(1) else '') + m.group(2) + ('\\ ' if after.isalnum() else '')
    def plain(text):  # Markdown prose: |x| and a lone * are text, not rST substitutions or emphasis
        return text.replace('\\', '\\\\').replace('|', '\\|').replace('*', '\\*')
    for i, l in enumerate(lines):
        l = ''.join(part if k % 2 else plain(part) for k, part in enumerate(re.split(r'(`[^`\n]+`)', l)))
        l = re.sub(r'\[([^\]\n`]+)\]\((\S+?)\)', r'`\1 <\2>`__', l)
        lines[i] = re.sub(r'(\w?)(`[^`\n]+`(?:__)?)', span, l)


def _code_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    "Backticked text in a docstring: Python names go through `py:obj` (linked when documented), the rest is code."
    import re
    from docutils import nodes
    from sphinx.domains.python import PyXRefRole
    if re.fullmatch(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\(\))?', text):
        # a leading dot: found anywhere in the library (`UserError` in hawcnb.runner links to hawcnb.core.UserError)
        return PyXRefRole()('py:obj', rawtext, '.' + text, lineno, inliner, options or {}, content or [])
    return [nodes.literal(rawtext, text)], []


def setup(app):
    app.connect('autodoc-process-docstring', _docments)
    app.connect('autodoc-process-docstring', _markdown_inline)
    app.add_role('hawcnb-code', _code_role)


html_theme = 'sphinx_book_theme'
html_title = project
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    'show_navbar_depth': 1,
    'show_toc_level': 2,
    'home_page_in_toc': True,
    'use_download_button': False,
    'use_fullscreen_button': False,
    'navigation_with_keys': False,
}
