"""The page's own Markdown renderer and snippet reader (markdown.js, search.js), run in the browser
on inputs that must render exactly so: formatting, nesting, code, and everything that must stay
text (HTML, script, non-http links).
"""

import pytest

CASES = {
    "inline": ("# Title\n\nSome *em*, **strong**, ***both***, ~~gone~~ and `a <b> c`.",
               "<h1>Title</h1><p>Some <em>em</em>, <strong>strong</strong>, <strong><em>both</em></strong>, "
               "<del>gone</del> and <code>a &lt;b&gt; c</code>.</p>"),
    "line breaks": ("one\ntwo\n\nthree", "<p>one<br>two</p><p>three</p>"),
    "snake case": ("call snake_case_name and a * b * c", "<p>call snake_case_name and a * b * c</p>"),
    "nested list": ("- a\n  - b\n  - c\n- d",
                    "<ul><li><p>a</p><ul><li><p>b</p></li><li><p>c</p></li></ul></li><li><p>d</p></li></ul>"),
    "ordered list": ("3. x\n4. y", '<ol start="3"><li><p>x</p></li><li><p>y</p></li></ol>'),
    "quote and rule": ("> quoted *text*\n\n---", "<blockquote><p>quoted <em>text</em></p></blockquote><hr>"),
    "html is text": ('<b>hi</b> <img src=x onerror="alert(1)"><script>alert(2)</script>',
                     '<p>&lt;b&gt;hi&lt;/b&gt; &lt;img src=x onerror="alert(1)"&gt;&lt;script&gt;alert(2)&lt;/script&gt;</p>'),
    "links": ("[ok](https://example.com/a?b=1) [js](javascript:alert(1)) [data](data:text/html,x) "
              "[rel](/v1/models) see https://example.org/x_(y).",
              '<p><a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer nofollow">ok</a> '
              "<span>js</span> <span>data</span> <span>rel</span> see "
              '<a href="https://example.org/x_(y)" target="_blank" rel="noopener noreferrer nofollow">'
              "https://example.org/x_(y)</a>.</p>"),
    "image is a link": ("![a cat](https://example.com/cat.png)",
                        '<p><a href="https://example.com/cat.png" target="_blank" rel="noopener noreferrer nofollow" '
                        'class="image-link">a cat</a></p>'),
    "escapes": (r"\*not em\* and \`not code\`", "<p>*not em* and `not code`</p>"),
    "closing hashes": ("## Heading ##", "<h2>Heading</h2>"),
    "code spans": ("``a ` b`` and `c`", "<p><code>a ` b</code> and <code>c</code></p>"),
    "url punctuation": ("(see https://example.com/a).",
                        '<p>(see <a href="https://example.com/a" target="_blank" rel="noopener noreferrer nofollow">'
                        "https://example.com/a</a>).</p>"),
    "table": ("| a | b |\n|:--|--:|\n| 1 | **2** |",
              '<div class="table-wrap"><table><thead><tr><th style="text-align: left;">a</th>'
              '<th style="text-align: right;">b</th></tr></thead><tbody><tr><td style="text-align: left;">1</td>'
              '<td style="text-align: right;"><strong>2</strong></td></tr></tbody></table></div>'),
}


@pytest.fixture
def rendered(page):
    sources = {name: source for name, (source, _) in CASES.items()}
    sources["fence"] = "```html\n<script>alert(1)</script>\n  indented\n```\nafter"
    sources["open fence"] = "text\n```py\nprint(1)"
    return page.driver.execute_async_script("""
        const [sources, done] = arguments;
        Promise.all([import('/assets/markdown.js'), import('/assets/search.js')]).then(([md, search]) => {
            const out = {};
            for (const [name, source] of Object.entries(sources)) {
                const box = document.createElement('div');
                md.renderMarkdown(source, box);
                out[name] = box.innerHTML;
                out[name + ':code'] = [...box.querySelectorAll('pre code')].map(c => [c.className, c.textContent]);
            }
            const snippet = document.createElement('div');
            search.appendSnippet('a &lt;b&gt; <mark>x &amp;amp; y</mark> &#39;q&#39; <img src=x onerror=alert(1)>', snippet);
            out.snippet = snippet.innerHTML;
            out.pwned = window.__pwned === undefined;
            done(out);
        }, (error) => done({error: String(error)}));
    """, sources)


@pytest.mark.parametrize("name", CASES)
def test_markdown_renders_exactly(rendered, name):
    assert "error" not in rendered, rendered.get("error")
    assert rendered[name] == CASES[name][1]


def test_code_blocks_keep_their_text_and_an_unclosed_fence_is_code(rendered):
    assert rendered["fence:code"] == [["language-html", "<script>alert(1)</script>\n  indented"]]
    assert rendered["fence"].endswith("<p>after</p>")
    assert rendered["open fence:code"] == [["language-py", "print(1)"]]


def test_hostile_input_renders_in_linear_time(page):
    """Model output is untrusted: text built to make a parser backtrack must still render in time
    linear in its length. Each input is rendered at a quarter of its size and at full size; the
    full one may take at most twice the linear share of the quarter's time (plus 50 ms for timer
    noise). A quadratic renderer takes 16 times as long for 4 times the text and fails; a slow or
    busy machine slows both runs alike and passes."""
    timings = page.driver.execute_async_script("""
        const done = arguments[0];
        import('/assets/markdown.js').then((md) => {
            const inputs = {
                stars: (n) => '*a '.repeat(n), brackets: (n) => '['.repeat(n) + '](', ticks: (n) => '`a ``b '.repeat(n / 2),
                heading: (n) => '# ' + ' '.repeat(n) + 'x', url: (n) => 'https://e.com/' + ')'.repeat(n) + '.'.repeat(n),
                underscores: (n) => '_a '.repeat(n), quotes: (n) => '> '.repeat(n) + 'deep',
                lists: (n) => Array.from({length: Math.round(Math.sqrt(n * 450))}, (_, i) => ' '.repeat(2 * i) + '- x').join('\\n'),
            };
            const out = {};
            for (const [name, make] of Object.entries(inputs)) {
                out[name] = [5000, 20000].map((n) => {
                    const text = make(n);
                    const start = performance.now();
                    md.renderMarkdown(text, document.createElement('div'));
                    return {chars: text.length, ms: performance.now() - start};
                });
            }
            done(out);
        }, (error) => done({error: String(error)}));
    """)
    assert "error" not in timings, timings
    slow = {}
    for name, (small, big) in timings.items():
        allowed = 2 * (big["chars"] / small["chars"]) * max(small["ms"], 1.0) + 50
        if big["ms"] > allowed:
            slow[name] = (small, big, round(allowed, 1))
    assert not slow, f"rendering grew faster than the text (quarter size, full size, allowed ms): {slow}"


def test_snippets_allow_only_mark(rendered):
    assert rendered["snippet"] == ("a &lt;b&gt; <mark>x &amp;amp; y</mark> 'q' &lt;img src=x onerror=alert(1)&gt;")
    assert rendered["pwned"]
