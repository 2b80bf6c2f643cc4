// `pv history` as a user reads it: a comparison or a search is one line with its seeds or chunks folded, each with
// the id `pv report` takes; the filters (--kind, --backend, --scenario, --verdict, --since) keep the groups that match;
// --json names the units and gives A/B metrics as real means per run, never the store's thousandths.
using System.Text.Json;

namespace Pv.Cli.Tests;

public sealed class HistoryCommandTests
{
    private static readonly string Config = Path.Combine(Fixtures.RepoRoot, "plugins.json");
    private static readonly string Zoo = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo");

    private static (int Exit, string Out, string Err) Pv(params string[] args) => Cli.Run(Path.GetTempPath(), args);

    /// <summary>A store with an A/B comparison of Z1 (A finds O2 in both seeds), a run of the fixed Z3 and a search of the fixed Z1.</summary>
    private static readonly Lazy<string> Store = new(() =>
    {
        string db = Cli.Db();
        Assert.Equal(PvExitCode.Violation, Pv("ab", Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "2", "--schedules", "20", "--db", db, "--config", Config).Exit);
        Assert.Equal(PvExitCode.Ok, Pv("run", Path.Combine(Zoo, "z3-pfnmap-unmap-mapping-range-fixed.pvl"), "--db", db, "--config", Config).Exit);
        Assert.Equal(PvExitCode.Ok, Pv("explore", Path.Combine(Zoo, "z1-gup-fast-vs-munmap-fixed.pvl"), "--schedules", "2500", "--out", Path.ChangeExtension(db, ".cx.json"), "--db", db, "--config", Config).Exit);
        return db;
    });

    private static string[] Lines(string output) => [.. output.Split('\n').Where(l => l.StartsWith('│'))];

    [Fact]
    public void A_comparison_and_a_search_are_one_line_each_with_their_units_folded()
    {
        var (exit, output, error) = Pv("history", "--db", Store.Value);
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        var rows = Lines(output).Skip(1).ToList();
        Assert.Equal(3, rows.Count);
        // Newest first: the search (3 chunks of 1,000 schedules at most), the run, the comparison.
        Assert.Contains("explore", rows[0]);
        Assert.Contains("3 chunk(s)", rows[0]);
        Assert.Contains("run", rows[1]);
        Assert.Contains("xen-pv-2012 vs xen-pv", rows[2]);
        Assert.Contains("2 seeds x 2", rows[2]);
        Assert.Contains("xen-pv-2012: O2 2/2; xen-pv: clean 2/2", rows[2]);
        Assert.Contains("3 group(s)", output);
        // Every unit is still counted: 4 A/B seeds, 1 run, 3 chunks.
        Assert.Contains($"8 run(s) from {Store.Value}", output);
    }

    [Theory]
    [InlineData("--kind", "ab", "xen-pv-2012 vs xen-pv")]
    [InlineData("--kind", "explore", "z1-gup-fast-vs-munmap-fixed.pvl")]
    [InlineData("--backend", "xen-pv-2012", "xen-pv-2012 vs xen-pv")]
    [InlineData("--scenario", "z3-pfnmap", "z3-pfnmap-unmap-mapping-range-fixed.pvl")]
    [InlineData("--verdict", "O2", "xen-pv-2012 vs xen-pv")]
    public void Each_filter_keeps_the_matching_group(string option, string value, string shown)
    {
        var (exit, output, _) = Pv("history", "--db", Store.Value, option, value);
        Assert.Equal(PvExitCode.Ok, exit);
        var rows = Lines(output).Skip(1).ToList();
        Assert.Single(rows);
        Assert.Contains(shown, rows[0]);
    }

    [Fact]
    public void Verdict_clean_and_since_filter_by_every_unit_and_by_time()
    {
        Assert.Equal(2, Lines(Pv("history", "--db", Store.Value, "--verdict", "clean").Out).Length - 1);
        Assert.Equal(3, Lines(Pv("history", "--db", Store.Value, "--since", "1h").Out).Length - 1);
        Assert.Equal(3, Lines(Pv("history", "--db", Store.Value, "--since", "2000-01-01").Out).Length - 1);
        Assert.Contains("0 group(s)", Pv("history", "--db", Store.Value, "--since", "2999-01-01T00:00").Out);
        var (exit, _, error) = Pv("history", "--db", Store.Value, "--since", "yesterday");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains("--since yesterday: expected a UTC date or time", error);
        Assert.Equal(PvExitCode.BadInput, Pv("history", "--db", Store.Value, "--verdict", "O9").Exit);
        Assert.Equal(PvExitCode.BadInput, Pv("history", "--db", Store.Value, "--kind", "soak").Exit);
    }

    [Fact]
    public void Json_groups_units_and_gives_ab_metrics_as_real_means_with_the_units_named()
    {
        var (exit, output, _) = Pv("history", "--db", Store.Value, "--json", "--kind", "ab");
        Assert.Equal(PvExitCode.Ok, exit);
        var doc = JsonDocument.Parse(output).RootElement;
        Assert.Contains("the real value", doc.GetProperty("units").GetProperty("metrics").GetString());
        var run = Assert.Single(doc.GetProperty("runs").EnumerateArray());
        Assert.Equal("ab", run.GetProperty("kind").GetString());
        Assert.Equal(["xen-pv-2012", "xen-pv"], run.GetProperty("backends").EnumerateArray().Select(b => b.GetString()));
        Assert.StartsWith("pv ab ", run.GetProperty("command").GetString());
        var rows = run.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(4, rows.Count);
        // Z1 takes 8,000 simulated ns per run on both backends (README): 8000, not the 8000000 thousandths stored.
        Assert.All(rows, r => Assert.Equal(8000.0, r.GetProperty("metrics").GetProperty("time.simulated_ns").GetDouble()));
        Assert.Equal(3.0, rows[0].GetProperty("metrics").GetProperty("table.freed_now").GetDouble());
        // The id is the one pv report takes.
        Assert.Equal(PvExitCode.Ok, Pv("report", run.GetProperty("id").GetString()!, "--db", Store.Value, "--format", "csv").Exit);
    }
}
