import Foundation
import Testing

@testable import ParleyEngine

/// Small templates exercising each construct the interpreter implements render exactly as jinja2
/// renders them (set up as transformers sets it up), and fail where jinja2 fails.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct JinjaLanguageReferenceTests {
    static let chats = [
        ChatTemplateFamilyReferenceTests.chat([
            ("system", "Be brief."), ("user", " Hi there \n"), ("assistant", "<think>\nr\n</think>\n\nok <|im_end|>"),
        ]),
        ChatTemplateFamilyReferenceTests.chat([], prompt: false),
    ]

    /// Templates written one per paragraph (paragraphs end at an empty line), a paragraph's lines
    /// joined without newlines; `⏎` stands for a newline and `␍` for a carriage return.
    static func paragraphs(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").map {
            $0.replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: "⏎", with: "\n")
                .replacingOccurrences(of: "␍", with: "\r")
        }
    }

    /// Literals, operators, attribute and item access, slices.
    static let expressions = paragraphs(
        #"""
        {{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }}
         {{ 1 / 4 }}

        {{ 4 / 2 }} {{ 3 * 1.5 }} {{ 10 - 2.5 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ - 2 ** 2 }} {{ -1 | abs }}
         {{ +3 }}

        {{ 'ab' * 3 }} {{ [1] * 2 }} {{ 'a' ~ 1 ~ none ~ true }} {{ 'x' + 'y' | upper }}
         {{ ('x' + 'y') | upper }}

        {{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}
         {{ 1 >= 1 }}

        {{ 'b' in 'abc' }} {{ 'x' not in 'abc' }} {{ 2 in [1, 2] }} {{ 'role' in messages[0] }}
         {{ 'a' in nothing }}

        {{ none and 1 }}|{{ 0 or 'x' }}|{{ '' or [] }}|{{ 1 and 2 }}|{{ not '' }}|{{ not messages }}
        |{{ 'k' in {'k': 1} }}

        {{ 'y' if true else 'n' }}|{{ 'y' if false }}|{{ 'a' if false else 'b' if true else 'c' }}|{{ nothing }}
        |

        {{ none }} {{ true }} {{ False }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 2.50 }}
         {{ 1e0 if false else 100000000000000000.0 }}

        {{ [1, 'a', none, [true], "it's", 'x\ny'] }} {{ {'a': 1, 'b': 'x'} }} {{ (1,) }} {{ () }} {{ ('a', 2) }}

        {{ messages[0] }} {{ messages }}

        {{ messages[-1].content }}|{{ messages[5] }}|{{ messages[1:] | length }}|{{ messages[::-1][0].role }}

        {{ 'abcdef'[1:4] }}|{{ 'abcdef'[::2] }}|{{ 'abcdef'[-2:] }}|{{ 'abcdef'[:-2] }}|{{ 'abcdef'[::-1] }}
        |{{ [1,2,3,4,5][4:1:-2] }}

        {{ 'abc'[1] }}{{ 'abc'[-1] }}{{ [1, 2][-3] is defined }}{{ messages.0.role }}

        {{ 'a\tb' }}{{ "q'uote" }}{{ 'é\u00e9\x41' }}{{ 'a' 'b' }}

        {{ messages[0].nothing is defined }}{{ 'abc'.nothing is defined }}{{ none.x is defined }}

        {{ (messages | map(attribute='content') | map('trim') | join('|')) ~ '!' }}

        {{ messages | length > 1 and messages[0].role == 'system' }}
        """#
    )
    /// Loops, assignments and scoping, macros, blocks, whitespace control.
    static let statements = paragraphs(
        #"""
        {% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}
        {{ loop.revindex }}{{ loop.revindex0 }}[{{ loop.previtem.role if loop.previtem is defined }}
        |{{ loop.nextitem.role if loop.nextitem is defined }}]{% endfor %}

        {% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role }} {% else %}
        none{% endfor %}

        {% for x in [] %}x{% else %}empty{% endfor %}{% for x in range(3) %}{{ x }}{% endfor %}
        {% for x in range(1, 10, 3) %}{{ x }}{% endfor %}

        {% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [(1, 2), (3, 4)] %}
        {{ a + b }}{% endfor %}

        {% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}
        {{ x }}{% endfor %}

        {% for x in 'abc' %}{{ loop.cycle('+', '-') }}{{ x }}{% endfor %}

        {% for row in [[1, 2], [3]] %}{% for x in row %}{{ loop.index }}{{ x }}{% endfor %}|{{ loop.index }}
        {% endfor %}

        {% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}

        {% set ns = namespace(count=0, items=[]) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}
        {% endfor %}{{ ns.count }}{{ ns.items }}

        {% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}{% if false %}{% elif true %}elif{% else %}
        else{% endif %}

        {% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}{% set (c, d) = 'xy' %}{{ d }}{{ c }}

        {% set block %}  text {{ messages | length }} {% endset %}[{{ block }}][{{ block | trim }}]

        {% set block | upper %}abc {{ messages[0].role }}{% endset %}{{ block }}

        {% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }}
         {{ greet('b', '?') }} {{ greet(punct='.', name='c') }}

        {% macro show(m) -%}⏎  <{{ m.role }}>{{ m.content | trim }}⏎{%- endmacro %}{% for m in messages %}
        {{ show(m) }}{% endfor %}

        {% filter upper %}shout {{ messages[0].role }}{% endfilter %}

        {% generation %}gen {{ 1 }}{% endgeneration %}

        a  {%- if true -%}  b  {%- endif -%}  c⏎  {% if true %}⏎  d⏎  {% endif %}⏎e {{- ' f ' -}} g

        {# comment #}x{#- trimmed -#} y⏎  {% for m in messages %}⏎    {{ m.role }}⏎  {% endfor %}⏎
        """#
    )
    /// Tests, filters, Python methods and globals.
    static let testsAndFilters = paragraphs(
        #"""
        {{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}
        {{ 1.5 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}
        {{ {} is mapping }}{{ [] is mapping }}

        {{ [] is iterable }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ 'a' is sequence }}{{ true is boolean }}
        {{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ range is callable }}
        {{ 1 is not none }}{{ x is not defined }}

        {{ 3 is odd }}{{ 3 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ 'a' is equalto 'a' }}
        {{ 1 is eq 1 }}{{ 1 is ne 2 }}{{ 1 is lt 2 }}{{ 1 is gt 2 }}{{ 1 is le 1 }}{{ 1 is ge 2 }}
        {{ 1 is in [1] }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ 'aB' is lower }}{{ none is sameas none }}

        [{{ '  a b ⏎' | trim }}][{{ 'xxaxx' | trim('x') }}]{{ messages | length }}{{ 'abc' | count }}
        {{ [3, 1] | first }}{{ [3, 1] | last }}{{ 'abc' | first }}{{ [1, 2, 3] | join('-') }}
        {{ ['a', 'b'] | join }}{{ messages | join(', ', attribute='role') }}

        {{ 'Hello World' | upper }} {{ 'Hello World' | lower }} {{ 'hello wORLD-foo(bar' | title }}
         {{ 'hello WORLD' | capitalize }} {{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }}

        {{ nothing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('n') }}
         {{ 0 | default(5, boolean=true) }}

        {{ 42 | string }}{{ [1] | string }}{{ '12' | int + 1 }}{{ 'x' | int }}{{ 'x' | int(7) }}{{ 3.9 | int }}
        {{ '2.5' | float }}{{ 2 | float }}{{ 'abc' | list }}{{ {'a': 1} | items | list }}

        {{ {'b': 1, 'A': 2, 'c': 0} | dictsort }}
         {{ {'b': 1, 'A': 2, 'c': 0} | dictsort(by='value', reverse=true) }}

        {{ messages | selectattr('role', 'equalto', 'user') | list | length }}
        {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }}
        {{ [0, 1, 2, '', 'a'] | select | list }}{{ [1, 2, 3, 4] | reject('odd') | list }}
        {{ [1, 2, 3] | select('gt', 1) | list }}

        {{ ['a', 'B', 'b', 'A'] | unique | list }}{{ [3, 1, 2] | sort }}{{ ['b', 'A', 'a', 'C'] | sort }}
        {{ ['b', 'A', 'a'] | sort(case_sensitive=true) }}{{ [3, 1, 2] | sort(reverse=true) }}
        {{ messages | sort(attribute='role') | map(attribute='role') | join(',') }}

        {{ [1, 2, 3] | reverse | list }}{{ 'abc' | reverse }}{{ -3 | abs }}{{ -2.5 | abs }}{{ 2.5 | round }}
        {{ 3.5 | round }}{{ 2.567 | round(2) }}{{ 2.1 | round(0, 'ceil') }}{{ 2.9 | round(method='floor') }}
        {{ 3 | round }}

        {{ 'a⏎b⏎⏎c' | indent }}|{{ 'a⏎b' | indent(2, true) }}|{{ 'a⏎⏎b' | indent(width=1, blank=true) }}

        {{ '<a href="x">&' | e }}{{ '<b>' | safe }}{{ ['a', 'b'] | map('upper') | list }}{{ [1, 2, 3] | sum }}
        {{ [1, 5, 3] | max }}{{ [4, 2, 8] | min }}{{ 'one two  three' | wordcount }}

        {{ messages | tojson }}

        {{ {'z': [1, 2.5, none, true], 'a': {'é': 'x"\n'}} | tojson }}
        |{{ {'z': 1, 'a': [1, {'b': 2}], 'e': []} | tojson(indent=2) }}
        |{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ [1, 2] | tojson(separators=(',', ':')) }}
        |{{ 'x' | tojson }}|{{ {} | tojson(indent=2) }}

        [{{ '  x  '.strip() }}][{{ 'xxaxx'.strip('x') }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}
        ][{{ '⏎ab⏎'.lstrip('⏎') }}]

        {{ 'a,b,,c'.split(',') }}{{ ' a  b c '.split() }}{{ 'a,b,c'.split(',', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}
        {{ ' a b  c '.split(none, 1) }}{{ ' a b  c '.rsplit(none, 1) }}{{ 'a⏎b␍⏎c⏎'.splitlines() }}

        {{ 'abc'.startswith('ab') }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('bc') }}
        {{ 'abc'.endswith(('x',)) }}{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}{{ 'hello world'.title() }}
        {{ 'hELLO'.capitalize() }}{{ 'aXbX'.replace('X', '-') }}{{ 'abcb'.find('b') }}{{ 'abcb'.rfind('b') }}
        {{ 'abc'.find('z') }}{{ 'abab'.count('ab') }}{{ '-'.join(['a', 'b']) }}

        {{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b') }}{{ {'a': 1}.get('b', 2) }}
        {{ {'a': 1, 'b': 2}.keys() | list }}{{ {'a': 1, 'b': 2}.values() | list }}{{ [1, 2, 1].index(2) }}
        {{ [1, 2, 1].count(1) }}{{ '12'.isdigit() }}

        {{ range(3) | list }}{{ dict(a=1, b='x') }}{{ namespace(a=1).a }}
        {{ strftime_now('%Y-%m-%d %H:%M:%S %b %B %a %A %j %y %I%p') }}

        {% for m in messages %}{{ m['role'] }}:{{ m.content }}{% if not loop.last %}⏎{% endif %}{% endfor %}

        {{ messages[0].content.split(' ')[0] }}|{{ messages[-1]['content'].split('</think>')[-1].strip() }}
        """#
    )
    /// Templates jinja2 fails on (for the first chat, or for the empty one).
    static let failures = paragraphs(
        #"""
        {{ nothing.attr }}

        {{ messages[0].role }}

        {{ 1 + 'a' }}

        {{ raise_exception('no') }}

        {{ nothing + 1 }}

        {{ [1][0] < 'a' }}

        {{ nothing() }}

        {{ messages[0].content.frobnicate() }}

        {{ (messages | first).x.y }}

        {% set a, b = [1, 2, 3] %}

        {{ 1 // 0 }}
        """#
    )
    @Test func rendersLikeJinja() throws {
        let templates = Self.expressions + Self.statements + Self.testsAndFilters + Self.failures
        let expected = try InterpretedReference.jinja(templates.map { .init(template: $0, conversations: Self.chats) })
        var failing = 0
        for (source, renderings) in zip(templates, expected) {
            guard let template = try? InterpretedReference.interpreted(source) else {
                Issue.record("\(source.debugDescription) is refused")
                continue
            }
            for (conversation, rendered) in zip(Self.chats, renderings) {
                let ours = try? InterpretedReference.ours(template, conversation).get()
                #expect(ours == rendered, "\(source.debugDescription) with \(conversation.messages.count) messages")
                if rendered == nil { failing += 1 }
            }
        }
        // Every failure template fails at least once; the others only on the empty chat.
        #expect(failing >= Self.failures.count)
    }
}
