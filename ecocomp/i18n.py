"""The command line's language: Chinese (zh) or English (en), and its catalogue of phrases.

Every translated phrase of the summaries, statements and table headings is in
:data:`MESSAGES`, one entry per phrase with its English and Chinese text. Error messages are
English for now (they name files, fields and commands to run). The language is chosen by
``--lang``, else ``ECOCOMP_LANG``, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``
starting with ``zh`` means Chinese), else English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from ecocomp.formatting import daxie, format_wan, format_yuan_grouped
from ecocomp.money import in_money_context
from ecocomp.outputs import terminal_text

__all__ = ["LANGS", "MESSAGES", "default_lang", "message", "named", "render_statement"]

LANGS = ("zh", "en")

#: key -> (English, Chinese); ``str.format`` fields are the same in both.
MESSAGES: Mapping[str, tuple[str, str]] = {
    # settle / demo summary
    "summary.head": ("Settlement {year}: {obligations} obligations ({paid} with money), "
                     "{nets} agreement nets",
                     "{year}年度结算：补偿责任 {obligations} 项（有金额 {paid} 项），"
                     "协议净额 {nets} 项"),
    "summary.net": ("  {agreement}: {payer} pays {payee} {amount} yuan ({wan}万), due {due}",
                    "  {agreement}：{payer} 向 {payee} 支付 {amount} 元（{wan}万元），"
                    "应付日期 {due}"),
    "summary.dry": ("dry run, nothing was written; a real run would post {posted}, leave "
                    "{unchanged} unchanged and adjust {adjusted}",
                    "试算，未写入任何内容；实际运行将新记 {posted} 笔、不变 {unchanged} 笔、"
                    "调整 {adjusted} 笔"),
    "summary.ledger": ("ledger: {posted} posted, {unchanged} unchanged, {adjusted} adjusted",
                       "账本：新记 {posted} 笔，不变 {unchanged} 笔，调整 {adjusted} 笔"),
    "summary.adjusted": ("  adjusted {corrects}: {reason}", "  已调整 {corrects}：{reason}"),
    "summary.would_adjust": ("  would adjust {corrects}: {reason}",
                             "  将调整 {corrects}：{reason}"),
    "daxie": ("    in words (大写): 人民币{words}", "    大写：人民币{words}"),
    # report heading, by what the ledger holds (ecocomp.reports.report_title)
    "report.title.water": ("Watershed ecological compensation settlement report",
                           "流域生态保护补偿结算报告"),
    "report.title.air": ("Air quality ecological compensation settlement report",
                         "大气生态保护补偿结算报告"),
    "report.title.park": ("Nanshan National Park ecological compensation settlement report",
                          "南山国家公园生态保护补偿结算报告"),
    "report.title.mixed": ("Ecological compensation settlement report",
                           "生态保护补偿结算报告"),
    # what a report as of a day leaves out (ecocomp.reports.Report.later_note)
    "report.later": ("{count} line(s) of {year} are booked after {as_of} (from {start} to "
                     "{end}) and left out of every table; --as-of {end} shows them",
                     "本年（{year}）有 {count} 笔记录入账日期晚于 {as_of}（{start} 至 {end}），"
                     "各表均未计入；用 --as-of {end} 查看"),
    "report.none": ("Nothing of {year} is booked on or before {as_of}, so every table is "
                    "empty: the year's {count} line(s) are booked from {start} to {end}; "
                    "--as-of {end} shows them",
                    "截至 {as_of}，{year} 年度尚无入账记录，各表为空：本年 {count} 笔记录"
                    "入账于 {start} 至 {end}；用 --as-of {end} 查看"),
    # statement
    "st.head": ("Statement {year} — {party}, as of {as_of}",
                "{year}年度对账单 — {party}，截至 {as_of}"),
    "st.net": ("net for the year: {amount} yuan ({wan}万, positive = receives)",
               "全年净额：{amount} 元（{wan}万元，正数为应收）"),
    "st.later": ("  ({count} line(s) of the year are booked after {as_of} and not counted; "
                 "see them with --as-of {end})",
                 "  （本年有 {count} 笔记录入账日期晚于 {as_of}，未计入；用 --as-of {end} 查看）"),
    "st.agreements": ("agreements:", "协议："),
    "st.agreement": ("  {agreement} {name} [{confidence}]: accrued {accrued}, cleared "
                     "{cleared}, paid {paid}, open {open}{due} — {state}",
                     "  {agreement} {name}［{confidence}］：应计 {accrued}，清算 {cleared}，"
                     "已付 {paid}，未结 {open}{due} — {state}"),
    "st.due": (", due {due}", "，应付日期 {due}"),
    "st.open_words": ("    open amount in words (大写): 人民币{words}",
                      "    未结金额大写：人民币{words}"),
    "st.lines": ("lines:", "明细："),
    "st.line": ("  #{seq} {period} {agreement} {label} {kind}: {amount} with {counterparty}"
                "{reference}",
                "  #{seq} {period} {agreement} {label} {kind}：{amount}，对方 {counterparty}"
                "{reference}"),
    "st.reference": (", reference {reference}", "，凭证号 {reference}"),
    "st.basis": ("      basis: {text}", "      依据：{text}"),
    "st.reason": ("      reason: {text}", "      原因：{text}"),
    "st.zero": ("nothing to pay (zero amounts), and why:", "零金额期间及原因："),
    "st.zero_line": ("  {period} {agreement} {component}: 0.00 — {reason}",
                     "  {period} {agreement} {component}：0.00 — {reason}"),
    "st.receipt_tip": ("  (keep it; check later with `ecocomp ledger verify --against`)",
                       "  （请妥善保存；日后可用 `ecocomp ledger verify --against` 核对）"),
    # states, kinds, confidence marks
    "state.OVERDUE": ("OVERDUE", "逾期"),
    "state.not yet cleared": ("not yet cleared", "尚未清算"),
    "state.settled": ("settled", "已结清"),
    "state.open": ("open", "未结清"),
    "kind.accrual": ("accrual", "应计"),
    "kind.clearing": ("clearing", "清算"),
    "kind.payment": ("payment", "支付"),
    "kind.reversal": ("reversal", "冲销"),
    "kind.adjustment": ("adjustment", "调整"),
    "confidence.confirmed": ("confirmed", "已核实"),
    "confidence.inferred": ("inferred", "推定"),
    "confidence.placeholder": ("placeholder", "占位"),
    "confidence.unknown": ("unknown", "未知"),
    # tables
    "col.section": ("section", "断面"),
    "col.name": ("name", "名称"),
    "col.party": ("party", "单位"),
    "col.account": ("account", "账户"),
    "col.balance": ("balance (yuan)", "余额（元）"),
    "col.wan": ("万", "万元"),
    "tx.line": ("#{seq} {booked_on} {kind} {agreement} {period} {component}: {flows}",
                "#{seq} {booked_on} {kind} {agreement} {period} {component}：{flows}"),
    "tx.flow": ("{payer} → {payee} {amount}", "{payer} → {payee} {amount} 元"),
    "tx.count": ("{count} transaction(s)", "共 {count} 笔"),
    # pay
    "pay.recorded": ("payment recorded as transaction #{seq} ({key})",
                     "支付已记为第 {seq} 笔交易（{key}）"),
    "pay.notice": ("  {payer} pays {payee} {amount} yuan ({wan}万) on {date}, reference "
                   "{reference}",
                   "  {payer} 于 {date} 向 {payee} 支付 {amount} 元（{wan}万元），凭证号 "
                   "{reference}"),
    "check.ok": ("{project}: all files valid", "{project}：所有文件有效"),
}


def default_lang(environ: Mapping[str, str]) -> str:
    """``zh`` or ``en`` from ``ECOCOMP_LANG`` or the locale variables (POSIX precedence).

    >>> default_lang({"LANG": "zh_CN.UTF-8"}), default_lang({"LANG": "C.UTF-8"})
    ('zh', 'en')
    """
    chosen = environ.get("ECOCOMP_LANG", "").strip().lower()
    if chosen:
        return "zh" if chosen.startswith("zh") else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "").strip()
        if value:  # the first one set decides, as for every POSIX program
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def message(key: str, lang: str, /, **fields: Any) -> str:
    """The phrase ``key`` in ``lang`` with ``fields`` filled in."""
    english, chinese = MESSAGES[key]
    return (chinese if lang == "zh" else english).format(**fields)


def word(kind: str, value: str, lang: str) -> str:
    """A state, kind or confidence mark in ``lang`` (unknown values as they are)."""
    entry = MESSAGES.get(f"{kind}.{value}")
    if entry is None:
        return value
    return entry[1] if lang == "zh" else entry[0]


def named(code: str | None, names: Callable[[str], str], lang: str) -> str:
    """A party or section with its name: ``常德市(430700)`` in Chinese, ``常德市`` in English.

    English output keeps what it always printed (the name, or the code when unnamed);
    several codes separated by commas (a pooled fund) are each named.
    """
    if not code:
        return "-"
    shown = []
    for part in code.split(", "):
        name = names(part)
        if lang == "zh" and name != part:
            shown.append(f"{name}({part})")
        else:
            shown.append(name)
    return ", ".join(shown)


@in_money_context
def amount_texts(amount: Decimal, *, sign: bool = False) -> dict[str, str]:
    """``amount`` (grouped yuan) and ``wan`` (万元, at most 2 decimals) fields for a phrase."""
    return {"amount": format_yuan_grouped(amount, sign=sign), "wan": format_wan(amount)}


@in_money_context
def daxie_line(amount: Decimal, lang: str, key: str = "daxie") -> str:
    """The amount in capitals on its own line (the absolute amount: the text says who pays)."""
    return message(key, lang, words=daxie(abs(amount)))


@in_money_context
def render_statement(st: Any, lang: str, *, names: Callable[[str], str] = str,
                     with_daxie: bool = False) -> str:
    """A :class:`~ecocomp.statements.PartyStatement` as terminal text in ``lang``.

    Counterparties are shown by name (with their code in Chinese); with ``with_daxie`` each
    agreement's open amount is also written in 人民币大写.
    """
    party = named(st.party, lambda c: st.name if c == st.party else names(c), "zh")
    out = [message("st.head", lang, year=st.year, party=party, as_of=st.as_of)]
    out.append(message("st.net", lang, **amount_texts(st.net, sign=True)))
    if getattr(st, "booked_later", 0):
        from ecocomp.statements import later_note

        out.append(later_note(st, lang))
    if st.agreements:
        out.append(message("st.agreements", lang))
    for a in st.agreements:
        out.append(message(
            "st.agreement", lang, agreement=a.agreement,
            name=a.name if a.name != a.agreement else "",
            confidence=word("confidence", a.confidence, lang),
            accrued=format_yuan_grouped(a.accrued, sign=True),
            cleared=format_yuan_grouped(a.cleared, sign=True),
            paid=format_yuan_grouped(a.paid, sign=True),
            open=format_yuan_grouped(a.open, sign=True),
            due=message("st.due", lang, due=a.due) if a.due else "",
            state=word("state", a.state, lang)).replace("  [", " [", 1))
        if with_daxie and a.open:
            out.append(daxie_line(a.open, lang, "st.open_words"))
    out.append(message("st.lines", lang))
    from ecocomp.statements import explain

    for line in st.lines:
        out.append(message(
            "st.line", lang, seq=line.seq, period=line.period or "",
            agreement=line.agreement or "", label=line.component or line.kind,
            kind=word("kind", line.kind, lang),
            amount=format_yuan_grouped(line.amount, sign=True),
            counterparty=named(line.counterparty, names, lang),
            reference=message("st.reference", lang, reference=line.reference)
            if line.reference else ""))
        explanation = explain(line.basis)
        if explanation:
            out.append(message("st.basis", lang, text=explanation))
        if line.reason:
            out.append(message("st.reason", lang, text=line.reason))
    if st.zero:
        out.append(message("st.zero", lang))
        for z in st.zero:
            out.append(message("st.zero_line", lang, period=z.period, agreement=z.agreement,
                               component=z.component, reason=z.reason))
    if st.receipt is not None:
        out.append(st.receipt.describe("receipt"))
        out.append(message("st.receipt_tip", lang))
    return "\n".join(map(terminal_text, out))  # one line each: names cannot add lines
