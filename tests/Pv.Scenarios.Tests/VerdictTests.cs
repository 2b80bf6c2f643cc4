// The verdict enum keeps the text format of everything written before it: every verdict's text reads back as
// itself, every oracle invariant has the verdict of its name, JSON carries the text, a counterexample file and a
// results store written with the old strings still read, and a text no verdict has is a clear error.
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Pv.Engine.Oracle;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Tests;

public sealed class VerdictTests
{
    [Fact]
    public void Every_verdict_reads_back_from_its_text()
    {
        Assert.Equal(["clean", "O1", "O2", "O3", "O4", "O5", "O6", "O7", "assertion", "deadlock", "step-limit", "internal-error", "invalid-scenario", "plugin-fault"],
            Enum.GetValues<Verdict>().Select(v => v.ToText()));
        foreach (var v in Enum.GetValues<Verdict>())
            Assert.True(Verdicts.TryParse(v.ToText(), out var back) && back == v, v.ToString());
        Assert.False(Verdicts.TryParse("Clean", out _));
        Assert.False(Verdicts.TryParse("O8", out _));
    }

    [Fact]
    public void Every_invariant_of_the_oracle_is_the_violation_verdict_of_its_name()
    {
        // The kernel's invariants are violations; a scenario's own assertion breaking is a verdict of its own, not one of them.
        var kernel = Enum.GetValues<InvariantId>().Where(id => id != InvariantId.Assertion).ToList();
        foreach (var id in kernel)
        {
            var v = Verdicts.Of(id);
            Assert.Equal(id.ToString(), v.ToText());
            Assert.True(v.IsViolation());
        }
        Assert.Equal(kernel.Count, Enum.GetValues<Verdict>().Count(v => v.IsViolation()));
        Assert.Equal(Verdict.Assertion, Verdicts.Of(InvariantId.Assertion));
        Assert.False(Verdict.Assertion.IsViolation());
    }

    [Fact]
    public void Json_carries_the_text_and_refuses_an_unknown_one()
    {
        Assert.Equal("""{"Verdict":"step-limit"}""", JsonSerializer.Serialize(new { Verdict = Verdict.StepLimit }));
        Assert.Equal(Verdict.InternalError, JsonSerializer.Deserialize<Verdict>("\"internal-error\""));
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Verdict>("\"O9\""));
        Assert.Contains("expected a verdict", e.Message);
        Assert.Contains("'O9'", e.Message);
    }

    [Fact]
    public void A_counterexample_file_with_the_old_strings_loads_and_an_unknown_verdict_is_located()
    {
        string text = """
            {
              "scenario": "/x/z1.pvl", "scenarioHash": "ab", "backend": "xen-pv-2012", "seed": 0, "strategy": "pct",
              "invariant": "O2", "violation": "O2 freed page-table walk", "omitThreads": [], "omitOps": [],
              "schedule": [0, 1], "pvVersion": "0.1.0"
            }
            """;
        Assert.Equal(Verdict.O2, Counterexample.Load(Fixtures.WriteFile("old.cx.json", text)).Invariant);
        string bad = Fixtures.WriteFile("bad.cx.json", text.Replace("\"O2\",", "\"O22\","));
        var e = Assert.Throws<ScenarioException>(() => Counterexample.Load(bad));
        Assert.Equal((bad, 3), (e.Diagnostics.Single().At.File, e.Diagnostics.Single().At.Line));
        Assert.Contains("'O22'", e.Message);
    }

    [Fact]
    public void The_store_keeps_the_text_and_skips_a_row_it_cannot_read_naming_it()
    {
        string db = Fixtures.WriteFile("pv.db", "");
        File.Delete(db);
        using (var store = ResultsStore.Open(db))
            store.Put(new StoredRun("run", "s", "/x.pvl", "h", "xen-pv", "1.0", "", 0, 1, Verdict.StepLimit, new Dictionary<string, long>(), "0.1.0", "2025-01-01T00:00:00Z", 1));
        using (var raw = new SqliteConnection($"Data Source={db}"))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "SELECT verdict FROM runs; UPDATE runs SET verdict = 'O2'";
            Assert.Equal("step-limit", cmd.ExecuteScalar());
        }
        using (var store = ResultsStore.Open(db))
        {
            Assert.Equal(Verdict.O2, Assert.Single(store.Recent(5)).Verdict);
            using var raw = new SqliteConnection($"Data Source={db}");
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "UPDATE runs SET verdict = 'exploded'";
            cmd.ExecuteNonQuery();
            Assert.Empty(store.Recent(5));
            Assert.Equal($"results store {db}: row 1: unknown verdict 'exploded' (written by a newer Pv?); skipped", Assert.Single(store.SkippedRows));
        }
        SqliteConnection.ClearAllPools();
    }

    private static string Scenario(string expect) =>
        $"expect {expect}\nbackend x86-native\ncpus 2\nmm a\n  vma 0x40000000 8K rw\nthread t cpu 0 mm a\n  read 0x40000000\n";

    [Theory]
    [InlineData("clean", Verdict.Clean)]
    [InlineData("O6", Verdict.O6)]
    public void A_scenario_expects_clean_or_an_invariant(string expect, Verdict verdict) =>
        Assert.Equal(verdict, ScenarioParser.Parse("e.pvl", Scenario(expect)).Expect.Verdict);

    [Theory]
    [InlineData("deadlock")]
    [InlineData("internal-error")]
    [InlineData("Clean")]
    public void A_scenario_cannot_expect_anything_else(string expect)
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse("e.pvl", Scenario(expect)));
        Assert.Contains(e.Diagnostics, d => d.ToString().Contains($"expected clean or an invariant O1..O7, found '{expect}'"));
    }
}
