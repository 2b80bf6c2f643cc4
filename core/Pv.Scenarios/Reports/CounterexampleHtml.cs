// A counterexample as one self-contained HTML page (no script, no external file): the violation first, highlighted;
// what was replayed (scenario path and SHA-256, backend, seed, the search that found it, what the minimiser left out);
// the schedule by thread name; the command that replays it; then the timeline, a column per thread or interrupt
// context and a row per step (the rows of TraceText's --timeline, whole: no cell is cut), the violating step's row
// highlighted and marked; and the TLB and page-table entries of the violating address.
using System.Net;
using System.Text;
using Pv.Engine;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Reports;

/// <summary>Writes the HTML view of a counterexample.</summary>
public static class CounterexampleHtml
{
    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>Where the page of the counterexample file <paramref name="cxFile"/> goes beside it: <c>x.cx.json</c> -> <c>x.cx.html</c>.</summary>
    public static string PathFor(string cxFile) =>
        (cxFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? cxFile[..^".json".Length] : cxFile) + ".html";

    /// <summary>Writes the page of <paramref name="cx"/> to <paramref name="path"/> (its directory created).</summary>
    public static void Write(string path, Counterexample cx, Replay replay, string replayCommand)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, Render(cx, replay, replayCommand));
    }

    /// <summary>The page of <paramref name="cx"/>, replayed as <paramref name="replay"/>; <paramref name="replayCommand"/> is the pv command that replays it.</summary>
    public static string Render(Counterexample cx, Replay replay, string replayCommand)
    {
        var sb = new StringBuilder();
        string title = $"{replay.Verdict.ToText()} on {cx.Backend}: {Path.GetFileName(cx.Scenario)}";
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Pv counterexample: ").Append(E(title)).Append("</title><style>")
          .Append(Style).Append("</style></head><body>");
        sb.Append("<h1>Counterexample: ").Append(E(title)).Append("</h1>");
        var v = replay.Result.Report?.Violation;
        sb.Append("<p class=\"violation\" id=\"violation\">")
          .Append(v is null ? $"No violation on replay: the run ended {E(replay.Result.Outcome.ToString())} (the file records {E(cx.Invariant.ToText())})."
              : $"<strong>{E(replay.Verdict.ToText())}</strong> at step {v.Step}: {E(v.ToString())}")
          .Append("</p>");
        sb.Append($"<p>Replayed verdict {E(replay.Verdict.ToText())}; the scenario expects {E(replay.Expected.ToText())}.</p>");
        sb.Append("<dl>");
        void Item(string name, string html) => sb.Append($"<dt>{E(name)}</dt><dd>{html}</dd>");
        Item("replay it", $"<code id=\"replay\">{E(replayCommand)}</code>");
        Item("schedule", $"<code id=\"schedule\">{E(ViolationReport.NamedSchedule(cx.Schedule, replay.Entities))}</code> ({cx.Schedule.Count} steps)");
        Item("scenario", $"<code>{E(cx.Scenario)}</code>");
        Item("scenario SHA-256", $"<code>{E(cx.ScenarioHash)}</code>");
        Item("backend", E(cx.Backend));
        Item("seed", cx.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Item("found by", E(cx.Strategy));
        if (cx.OmitThreads.Count + cx.OmitOps.Count > 0) Item("minimised", $"left out {E(cx.OmittedText)}");
        Item("written by", $"Pv {E(cx.PvVersion)}");
        sb.Append("</dl>");

        sb.Append("<h2>Timeline</h2>");
        var rows = TraceText.Rows(replay);
        if (rows.Count == 0) sb.Append("<p>The run took no step.</p>");
        else
        {
            // The columns of the text timeline: every entity that ran a step, by id (threads in scenario order, then irqN, then rcu).
            var columns = replay.Steps.Select(s => s.Entity).Distinct().Order().ToList();
            sb.Append("<table id=\"timeline\"><thead><tr><th>step</th>");
            foreach (int c in columns) sb.Append($"<th>{E(replay.Entities[c])}</th>");
            sb.Append("</tr></thead><tbody>");
            foreach (var row in rows)
            {
                sb.Append(row.Violation ? "<tr class=\"violation\">" : "<tr>").Append($"<td class=\"step\">{(row.Violation ? "&gt;&gt; " : "")}{E(row.Label)}</td>");
                foreach (int c in columns)
                    sb.Append(c != row.Entity ? "<td></td>"
                        : "<td>" + string.Join("", row.Lines.Select(l => $"<div class=\"{(l.StartsWith('(') ? "note" : "event")}\">{E(l)}</div>")) + "</td>");
                sb.Append("</tr>");
            }
            sb.Append("</tbody></table>");
        }
        if (replay.Entries.Count > 0)
        {
            sb.Append("<h2>Entries involved</h2><ul>");
            foreach (var e in replay.Entries) sb.Append($"<li><strong>{E(e.Where)}</strong>: <code>{E(e.Text)}</code></li>");
            sb.Append("</ul>");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private const string Style =
        "body{font-family:'DejaVu Sans',sans-serif;margin:1.5em 2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #ddd}" +
        ".violation{background:#fde8e8;border-left:5px solid #b00}p.violation{padding:.6em .8em;font-size:1.1em}" +
        "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}code{word-break:break-all}" +
        "table{border-collapse:collapse;font-family:'DejaVu Sans Mono',monospace;font-size:.85em}" +
        "th,td{border:1px solid #ccc;padding:2px 6px;vertical-align:top;text-align:left}th{background:#f0f0f0;position:sticky;top:0}" +
        "td.step{white-space:nowrap;color:#555}tr.violation td{background:#fde8e8}tr.violation td.step{color:#b00;font-weight:bold}" +
        ".note{color:#777;font-style:italic}.event{white-space:pre-wrap}";
}
