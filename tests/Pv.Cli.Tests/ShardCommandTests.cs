// --shard and pv merge through the real executable, as a cluster runs them: three shards of a search and of an
// A/B comparison, each a separate pv process on two workers with its own store, merged by a fourth, hold the
// rows one unsharded pv stores, and the same command with --resume on the merged store prints what the
// unsharded one printed; merging again changes nothing; the shards of a zoo together run every entry once; a bad
// --shard is exit 2 naming the option on every command that takes it; merge refuses a file that is not a store.
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Pv.Cli;

namespace Pv.Cli.Tests;

public sealed class ShardCommandTests
{
    private static readonly string Config = Path.Combine(Fixtures.RepoRoot, "plugins.json");
    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    private static string Folder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>pv as a process of its own, in <paramref name="folder"/>.</summary>
    private static (int Exit, string Out, string Err) Process(string folder, params string[] args) => ChildProcess.Run(args, folder);

    /// <summary>pv in this process.</summary>
    private static (int Exit, string Out, string Err) InProcess(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int exit = PvApp.Run(args, output, error, Path.GetTempPath());
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>The runs table in id order; with <paramref name="when"/> false, by unit and without the columns saying when.</summary>
    private static string Rows(string db, bool when = false)
    {
        using var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        raw.Open();
        using var cmd = raw.CreateCommand();
        cmd.CommandText = when ? "SELECT * FROM runs ORDER BY id"
            : "SELECT kind, session, scenario, scenario_hash, backend, plugin_version, plugin_sha256, seed, schedules, verdict, metrics, pv_version FROM runs ORDER BY session, backend, seed";
        using var r = cmd.ExecuteReader();
        var lines = new List<string>();
        while (r.Read()) lines.Add(string.Join('|', Enumerable.Range(0, r.FieldCount).Select(r.GetValue)));
        return string.Join('\n', lines);
    }

    /// <summary>Runs <paramref name="command"/> unsharded and in three shard processes, merges them, and returns both stores.</summary>
    private static (string Folder, string Single, string Merged, (int, string, string) SingleRun) ShardAndMerge(params string[] command)
    {
        string folder = Folder();
        var single = Process(folder, [.. command, "--db", "single.db", "--config", Config]);
        for (int k = 0; k < 3; k++)
        {
            var shard = Process(folder, [.. command, "--shard", $"{k}/3", "--jobs", "2", "--db", $"shard-{k}.db", "--config", Config]);
            Assert.True(shard.Exit is PvExitCode.Ok or PvExitCode.Violation, shard.Err);
        }
        var merge = Process(folder, "merge", "merged.db", "shard-0.db", "shard-1.db", "shard-2.db");
        Assert.Equal((PvExitCode.Ok, ""), (merge.Exit, merge.Err));
        Assert.StartsWith($"merged 3 store(s) into {Path.Combine(folder, "merged.db")}: ", merge.Out);
        string merged = Path.Combine(folder, "merged.db");
        // Idempotent: the same merge again leaves every row, its id and its times as they were.
        string once = Rows(merged, when: true);
        Assert.Equal(PvExitCode.Ok, Process(folder, "merge", "merged.db", "shard-2.db", "shard-0.db", "shard-1.db").Exit);
        Assert.Equal(once, Rows(merged, when: true));
        return (folder, Path.Combine(folder, "single.db"), merged, single);
    }

    [Fact]
    public void Three_explore_shards_as_processes_merge_into_the_store_and_the_result_of_one_unsharded_search()
    {
        // Z10 breaks O1 first in chunk 1 of 10; shards 0 and 2 each find a violation of their own past it.
        string[] explore = ["explore", Zoo("z10-mremap-truncate-stale-tlb.pvl"), "--schedules", "10000", "--no-minimise"];
        var (folder, single, merged, run) = ShardAndMerge(explore);
        Assert.Equal(PvExitCode.Ok, run.Item1);   // Z10 with the fix off expects the O1 it finds
        Assert.Equal(Rows(single), Rows(merged));
        // Shards sharing a folder each write a counterexample of their own beside the unsharded one.
        string cx = Path.Combine(folder, "z10-mremap-truncate-stale-tlb.x86-native.cx.json");
        Assert.All(Enumerable.Range(0, 3), k => Assert.True(File.Exists(Path.Combine(folder, $"z10-mremap-truncate-stale-tlb.x86-native.shard-{k}-of-3.cx.json"))));

        var resumed = Process(folder, [.. explore, "--resume", "--out", "merged.cx.json", "--db", "merged.db", "--config", Config]);
        Assert.Equal(PvExitCode.Ok, resumed.Exit);
        static string Found(string output) => string.Join('\n', output.Split('\n').Skip(1).Where(l => !l.Contains("cx.json")));
        Assert.Equal(run.Item2.Split('\n')[0].Split(" (")[0], resumed.Out.Split('\n')[0].Split(" (")[0]);
        Assert.Equal(Found(run.Item2), Found(resumed.Out));
        Assert.Equal(File.ReadAllText(cx), File.ReadAllText(Path.Combine(folder, "merged.cx.json")));
    }

    [Fact]
    public void Three_ab_shards_as_processes_merge_into_the_unsharded_comparison()
    {
        string[] ab = ["ab", Zoo("z1-gup-fast-vs-munmap.pvl"), "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "7", "--schedules", "5", "--json"];
        var (folder, single, merged, run) = ShardAndMerge(ab);
        Assert.Equal(PvExitCode.Violation, run.Item1);
        Assert.Equal(Rows(single), Rows(merged));
        var resumed = Process(folder, [.. ab, "--resume", "--db", "merged.db", "--config", Config]);
        Assert.Equal((run.Item1, run.Item2), (resumed.Exit, resumed.Out));
    }

    [Fact]
    public void The_shards_of_a_zoo_together_run_every_entry_once()
    {
        string dir = Folder();
        foreach (var entry in new[] { "z4-uml-missing-sync-mark.pvl", "z5-lazy-tlb-speculative-walk.pvl", "z6-batch-failure-walk-cache.pvl", "z8-switch-mm-window-skipped-flush.pvl" })
            File.Copy(Zoo(entry), Path.Combine(dir, entry));
        // Each entry as printed but for its wall time.
        static List<string> Entries(string json) =>
            [.. JsonNode.Parse(json)!.AsArray().Select(e => { e!.AsObject().Remove("ms"); return e.ToJsonString(); })];
        var whole = InProcess("zoo", "--dir", dir, "--json", "--config", Config);
        Assert.Equal(PvExitCode.Ok, whole.Exit);
        var shards = Enumerable.Range(0, 3).Select(k => InProcess("zoo", "--dir", dir, "--json", "--shard", $"{k}/3", "--config", Config)).ToList();
        Assert.All(shards, s => Assert.Equal(PvExitCode.Ok, s.Exit));
        Assert.Equal([2, 1, 1], shards.Select(s => Entries(s.Out).Count));
        // Entry i is shard i mod 3's: shard 0 has entries 0 and 3.
        var parts = shards.Select(s => Entries(s.Out)).ToList();
        Assert.Equal(Entries(whole.Out), [parts[0][0], parts[1][0], parts[2][0], parts[0][1]]);
    }

    [Theory]
    [InlineData("explore", "3/3", "--shard 3/3: K must be below N (the shards of 3 are 0 to 2)")]
    [InlineData("ab", "1/0", "--shard 1/0: N must be at least 1")]
    [InlineData("zoo", "two/3", "--shard two/3: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    [InlineData("soak", "-1/2", "--shard -1/2: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    public void A_bad_shard_is_exit_2_naming_the_option(string command, string shard, string message)
    {
        string z1 = Zoo("z1-gup-fast-vs-munmap.pvl");
        string[] args = command switch
        {
            "explore" => ["explore", z1],
            "ab" => ["ab", z1, "--a", "xen-pv-2012", "--b", "xen-pv"],
            "zoo" => ["zoo"],
            _ => ["soak", "--out", Folder()],
        };
        string db = Path.Combine(Folder(), "pv.db");
        var (exit, output, error) = InProcess([.. args, "--shard", shard, "--config", Config, .. command is "explore" or "ab" ? new[] { "--db", db } : []]);
        Assert.Equal((PvExitCode.BadInput, "", $"pv: {message}" + Environment.NewLine), (exit, output, error));
    }

    [Fact]
    public void Merge_refuses_a_file_that_is_not_a_store_with_exit_2_and_writes_nothing()
    {
        string text = Fixtures.WriteFile("notes.db", "not a database, a text file: " + new string('x', 4096));
        string output = Path.Combine(Folder(), "merged.db");
        var (exit, stdout, error) = InProcess("merge", output, text);
        Assert.Equal((PvExitCode.BadInput, "", $"pv: results store {text}: SQLite Error 26: 'file is not a database'." + Environment.NewLine), (exit, stdout, error));
        Assert.False(File.Exists(output));
        Assert.Equal(PvExitCode.BadInput, InProcess("merge", output).Exit);
    }
}
