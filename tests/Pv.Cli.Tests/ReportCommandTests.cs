// The A/B report as a user gets it through the CLI: `pv ab --report` leads with the headline, shows only the metrics
// that differ (every other one behind a toggle, zero-on-both-sides never), the verdict of each seed linking the HTML
// view of its counterexample, and the provenance; `pv report` renders the same stored comparison again as HTML,
// Markdown, CSV and JSON, also from a store written before the comparisons table; `pv replay --html` and
// `pv explore --html` write the counterexample page.
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Pv.Cli.Tests;

public sealed class ReportCommandTests
{
    private static readonly string Config = Path.Combine(Fixtures.RepoRoot, "plugins.json");
    private static readonly string Workload = Path.Combine(Fixtures.RepoRoot, "scenarios", "workload-munmap-heavy.pvl");
    private static readonly string Z1 = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap.pvl");

    private static (int Exit, string Out, string Err) Pv(params string[] args) => Cli.Run(Path.GetTempPath(), [.. args, "--config", Config]);

    private static (int Exit, string Out, string Err) PvNoConfig(params string[] args) => Cli.Run(Path.GetTempPath(), args);

    private static string Folder() => Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>A comparison both sides of which are clean and differ in cost: x86-native against Xen PV on the munmap workload.</summary>
    private sealed record Comparison(string Db, string Html, string Report, string Run, JsonElement Json);

    private static Comparison Compare(string scenario, string a, string b, int seeds, int schedules)
    {
        string folder = Folder(), db = Path.Combine(folder, "pv.db"), html = Path.Combine(folder, "report.html");
        var (exit, output, error) = Pv("ab", scenario, "--a", a, "--b", b, "--seeds", seeds.ToString(), "--schedules", schedules.ToString(), "--report", html, "--db", db, "--json");
        Assert.True(exit is 0 or 1, error);
        var json = JsonDocument.Parse(output).RootElement.Clone();
        return new Comparison(db, html, File.ReadAllText(html), json.GetProperty("run").GetString()!, json);
    }

    private static readonly Lazy<Comparison> Clean = new(() => Compare(Workload, "x86-native", "xen-pv", 3, 4));
    private static readonly Lazy<Comparison> Violating = new(() => Compare(Z1, "xen-pv-2012", "xen-pv", 2, 20));

    /// <summary>The text of <paramref name="html"/> from <paramref name="start"/> up to the next <paramref name="end"/>.</summary>
    private static string Between(string html, string start, string end)
    {
        int i = html.IndexOf(start, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{start}' not in the report");
        int j = html.IndexOf(end, i, StringComparison.Ordinal);
        return html[i..j];
    }

    [Fact]
    public void The_report_leads_with_the_verdicts_and_simulated_time_B_over_A_with_its_interval()
    {
        string html = Clean.Value.Report;
        var headline = Regex.Match(html, "<p class=\"headline\">(.*?)</p>").Groups[1].Value;
        Assert.Contains("Both clean (3 seeds each).", headline);
        var time = Clean.Value.Json.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "time.simulated_ns");
        string ratio = time.GetProperty("ratio").GetDouble().ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Matches($@"Simulated time B/A {Regex.Escape(ratio)} \[\d\.\d\d–\d\.\d\d\]: B is \d+% cheaper\.", headline);
        // First thing after the title: before any table or chart.
        Assert.True(html.IndexOf("class=\"headline\"", StringComparison.Ordinal) < html.IndexOf("<table", StringComparison.Ordinal));
    }

    [Fact]
    public void Only_metrics_that_differ_are_shown_by_default_every_other_behind_a_toggle_and_zero_ones_never()
    {
        string html = Clean.Value.Report;
        string differing = Between(html, "<table id=\"metrics-differing\"", "</table>");
        string all = Between(html, "<details>", "</details>");
        // Simulated time differs (x86 IPIs against Xen hypercalls); IPIs are A's only, hypercalls B's only.
        Assert.Contains("<td>time.simulated_ns</td>", differing);
        Assert.Contains("<td>ipi.sent</td>", differing);
        Assert.Contains("B only", differing);
        // Every lazy-MMU section is the same on both backends (B/A 1.00–1.00): unchanged, so only in the toggle.
        Assert.DoesNotContain("pvops.enter_lazy_mmu", differing);
        Assert.Contains("<td>pvops.enter_lazy_mmu</td>", all);
        // A counter zero on both sides is nowhere (alloc.failure counts failed allocations: none here).
        Assert.DoesNotContain("alloc.failure", html);
        // Exactly the metrics whose interval excludes 1 or that one side alone has, by the numbers `pv ab --json` printed.
        Assert.Equal(Regex.Matches(differing, "<tr>").Count - 1, Clean.Value.Json.GetProperty("metrics").EnumerateArray().Count(Differs));
        // Charts: SVG with axes (tick labels, the axis title) and the numbers of each interval.
        Assert.Contains("<svg class=\"chart\"", html);
        Assert.Contains("B/A (ratio of means per run", html);
        Assert.DoesNotContain("<script", html);
    }

    private static bool Differs(JsonElement m)
    {
        double a = m.GetProperty("meanA").GetDouble(), b = m.GetProperty("meanB").GetDouble();
        if ((a == 0) != (b == 0)) return true;
        return m.GetProperty("low").ValueKind == JsonValueKind.Number && (m.GetProperty("low").GetDouble() > 1 || m.GetProperty("high").GetDouble() < 1);
    }

    [Fact]
    public void The_report_gives_the_provenance_command_scenario_hash_plugins_and_their_hashes()
    {
        string html = Clean.Value.Report;
        string provenance = html[html.IndexOf("<h2>Provenance</h2>", StringComparison.Ordinal)..];
        Assert.Contains($"pv ab {Workload} --a x86-native --b xen-pv --seeds 3 --schedules 4", provenance);
        Assert.Contains(Workload, provenance);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Workload))), provenance);
        Assert.Contains("3 seeds x 4 PCT schedules per side", provenance);
        Assert.Contains(global::Pv.Cli.PvApp.Version, provenance);
        foreach (var (plugin, dll) in new[] { ("native", "Pv.Plugins.Native"), ("xen", "Pv.Plugins.Xen") })
        {
            Assert.Contains($"<td>{plugin}</td>", provenance);
            string path = Path.Combine(Fixtures.RepoRoot, "artifacts", "plugins", dll, dll + ".dll");
            Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), provenance);
        }
        Assert.Matches(@"<dt>finished \(UTC\)</dt><dd>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", provenance);
        Assert.Contains($"pv report {Clean.Value.Run}", provenance);
    }

    [Fact]
    public void The_report_has_a_verdict_per_seed_and_links_each_violating_seeds_counterexample_page()
    {
        string seeds = Between(Violating.Value.Report, "<table id=\"seeds\"", "</table>");
        Assert.Equal(3, Regex.Matches(seeds, "<tr>").Count);
        for (int seed = 0; seed < 2; seed++)
        {
            Assert.Matches($"<tr><td>{seed}</td><td><span class=\"bad\">O2</span> <a class=\"cx\" href=\"report.cx/A-seed{seed}.cx.html\">counterexample</a></td><td><span class=\"ok\">clean</span></td>", seeds);
            string folder = Path.GetDirectoryName(Violating.Value.Html)!;
            string page = File.ReadAllText(Path.Combine(folder, "report.cx", $"A-seed{seed}.cx.html"));
            Assert.Contains("Counterexample: O2 on xen-pv-2012", page);
            Assert.Contains("<tr class=\"violation\">", page);
            // The counterexample beside it replays to the same violation.
            var (exit, output, _) = Pv("replay", Path.Combine(folder, "report.cx", $"A-seed{seed}.cx.json"));
            Assert.Equal(PvExitCode.Ok, exit);
            Assert.Contains("verdict: O2 (expected O2)", output);
        }
        Assert.Contains("A xen-pv-2012: O2 in 2/2 seeds; B xen-pv: clean in 2/2 seeds.", Violating.Value.Report);
    }

    [Fact]
    public void Pv_report_renders_the_stored_comparison_again_in_each_format()
    {
        var c = Clean.Value;
        string headline = Regex.Match(c.Report, "<p class=\"headline\">.*?</p>").Value;

        var html = PvNoConfig("report", c.Run, "--db", c.Db, "--format", "html");
        Assert.Equal(PvExitCode.Ok, html.Exit);
        Assert.Contains(headline, html.Out);
        Assert.Contains("<svg class=\"chart\"", html.Out);

        var md = PvNoConfig("report", c.Run[..6], "--db", c.Db, "--format", "md");
        Assert.Equal(PvExitCode.Ok, md.Exit);
        Assert.StartsWith("# A/B: workload-munmap-heavy.pvl: x86-native vs xen-pv", md.Out);
        Assert.Contains("**Both clean (3 seeds each). Simulated time B/A", md.Out);
        Assert.Contains("| 2 | clean | clean |", md.Out);
        Assert.Contains($"- command: `pv ab {Workload}", md.Out);

        var csv = PvNoConfig("report", "last", "--db", c.Db, "--format", "csv");
        Assert.Equal(PvExitCode.Ok, csv.Exit);
        var lines = csv.Out.TrimEnd('\n').Split('\n');
        Assert.Equal("metric,mean_a,mean_b,ratio_b_a,low_95,high_95,differs", lines[0]);
        Assert.StartsWith("time.simulated_ns,", lines[1]);
        Assert.EndsWith(",true", lines[1]);
        Assert.Contains(lines, l => l.StartsWith("hypercall,0,", StringComparison.Ordinal) && l.EndsWith(",,,,true", StringComparison.Ordinal));

        var json = PvNoConfig("report", c.Run, "--db", c.Db, "--format", "json");
        Assert.Equal(PvExitCode.Ok, json.Exit);
        var doc = JsonDocument.Parse(json.Out).RootElement;
        Assert.Equal(c.Run, doc.GetProperty("run").GetString());
        // The same rows give the same comparison: every mean and interval as `pv ab --json` printed them.
        var stored = doc.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!, m => (m.GetProperty("meanA").GetDouble(), m.GetProperty("high").ToString()));
        foreach (var m in c.Json.GetProperty("metrics").EnumerateArray().Where(m => m.GetProperty("meanA").GetDouble() != 0 || m.GetProperty("meanB").GetDouble() != 0))
            Assert.Equal((m.GetProperty("meanA").GetDouble(), m.GetProperty("high").ToString()), stored[m.GetProperty("name").GetString()!]);
        Assert.Equal("x86-native", doc.GetProperty("plugins")[0].GetProperty("backend").GetString());

        string file = Path.Combine(Folder(), "again.html");
        var written = PvNoConfig("report", c.Run, "--db", c.Db, "-o", file);
        Assert.Equal((PvExitCode.Ok, $"report: {file}\n"), (written.Exit, written.Out.Replace("\r\n", "\n")));
        Assert.Contains(headline, File.ReadAllText(file));
    }

    [Fact]
    public void Pv_report_of_no_such_comparison_or_a_bad_format_is_exit_2_naming_it()
    {
        var (exit, _, error) = PvNoConfig("report", "ffffffff", "--db", Clean.Value.Db);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{Clean.Value.Db} holds no A/B comparison 'ffffffff'", error);
        Assert.Equal(PvExitCode.BadInput, PvNoConfig("report", "last", "--db", Clean.Value.Db, "--format", "pdf").Exit);
    }

    [Fact]
    public void A_store_written_before_the_comparisons_table_still_reports_and_gets_the_table_when_written()
    {
        string folder = Folder(), db = Path.Combine(folder, "old.db");
        File.Copy(Clean.Value.Db, db);
        using (var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString()))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "DROP TABLE comparisons";
            cmd.ExecuteNonQuery();
        }
        var (exit, output, error) = PvNoConfig("report", "last", "--db", db, "--format", "md");
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        // Which backend was A comes from the rows' session key; what the rows never held is said to be missing.
        Assert.StartsWith("# A/B: workload-munmap-heavy.pvl: x86-native vs xen-pv", output);
        Assert.Contains("- command: not recorded", output);
        Assert.Contains("Simulated time B/A", output);
        // Opened for writing (a resumed comparison), the store gets the table and the record again.
        Assert.Equal(PvExitCode.Ok, Pv("ab", Workload, "--a", "x86-native", "--b", "xen-pv", "--seeds", "3", "--schedules", "4", "--db", db, "--resume").Exit);
        Assert.Contains($"- command: `pv ab {Workload}", PvNoConfig("report", "last", "--db", db, "--format", "md").Out);
    }

    [Fact]
    public void Replay_and_explore_write_the_counterexample_page_with_a_column_per_thread()
    {
        string folder = Folder(), cx = Path.Combine(folder, "z1.cx.json");
        var (exit, output, _) = Pv("explore", Z1, "--out", cx, "--db", Path.Combine(folder, "pv.db"), "--html");
        Assert.Equal(PvExitCode.Ok, exit);
        string page = Path.Combine(folder, "z1.cx.html");
        Assert.Contains($"html: {page}", output);
        string html = File.ReadAllText(page);
        Assert.Contains("<p class=\"violation\" id=\"violation\"><strong>O2</strong>", html);
        Assert.Contains("<thead><tr><th>step</th><th>unmapper</th><th>walker</th></tr></thead>", html);
        Assert.Matches("<tr class=\"violation\"><td class=\"step\">&gt;&gt; #\\d+</td><td></td><td><div class=\"event\">VIOLATION invariant=O2", html);
        // × is written as the entity &#215; (HTML-encoded).
        Assert.Matches("<code id=\"schedule\">unmapper(&#215;\\d+)? walker", html);
        Assert.Contains($"<code id=\"replay\">pv replay {cx} --config {Config}</code>", html);

        string other = Path.Combine(folder, "again.html");
        var replay = Pv("replay", cx, "--timeline", "--html", other);
        Assert.Equal(PvExitCode.Ok, replay.Exit);
        Assert.Contains($"html: {other}", replay.Out);
        Assert.Equal(html, File.ReadAllText(other));
    }
}
