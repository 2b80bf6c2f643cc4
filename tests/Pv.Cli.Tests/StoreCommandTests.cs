// The results store through the CLI: a --db that cannot be written (or is not a database) is exit 2 naming the
// file before anything is simulated; a missing directory is created; `pv history` names, skips and counts a row it
// cannot read; a rerun of the same work keeps one history row; `explore --resume` rewrites a deleted counterexample.
using Microsoft.Data.Sqlite;
using Pv.Cli;

namespace Pv.Cli.Tests;

public sealed class StoreCommandTests
{
    private static readonly string Z1 = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap.pvl");

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run([.. args, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json")], output, error, Path.GetTempPath());
        return (exit, output.ToString(), error.ToString());
    }

    private static (int Exit, string Out, string Err) History(string db)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run(["history", "--db", db], output, error, Path.GetTempPath());
        return (exit, output.ToString(), error.ToString());
    }

    private static string Temp(string name) => Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"), name);

    [Theory]
    [InlineData("run")]
    [InlineData("explore")]
    [InlineData("ab")]
    public void A_db_that_cannot_be_written_or_is_not_a_database_is_exit_2_naming_it_before_simulating(string command)
    {
        string[] args = command switch
        {
            "ab" => ["ab", Z1, "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "2"],
            "explore" => ["explore", Z1, "--out", Temp("cx.json")],
            _ => ["run", Z1],
        };
        string text = Fixtures.WriteFile("not-a-db.db", new string('x', 4096));
        // /proc takes no new file, whoever runs the tests (root ignores a read-only mode bit).
        foreach (var db in new[] { "/proc/pv.db", text })
        {
            var (exit, output, error) = Run([.. args, "--db", db]);
            Assert.Equal((PvExitCode.BadInput, ""), (exit, output));
            Assert.StartsWith($"pv: results store {db}: ", error);
        }
    }

    [Fact]
    public void A_missing_directory_of_the_db_is_created_and_a_rerun_keeps_one_history_row()
    {
        string db = Temp(Path.Combine("deeper", "pv.db"));
        // Z1 expects O2, which the sequential schedule does not reach: exit 1 each time, one row kept.
        Assert.Equal(PvExitCode.Violation, Run("run", Z1, "--db", db).Exit);
        Assert.Equal(PvExitCode.Violation, Run("run", Z1, "--db", db).Exit);
        var (exit, output, _) = History(db);
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains($"1 run(s) from {db}", output);
    }

    [Fact]
    public void History_names_skips_and_counts_a_row_it_cannot_read()
    {
        string db = Temp("pv.db");
        Run("ab", Z1, "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "2", "--schedules", "5", "--db", db);
        using (var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString()))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "UPDATE runs SET verdict = 'exploded' WHERE id = 2";
            cmd.ExecuteNonQuery();
        }
        var (exit, output, error) = History(db);
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Equal($"pv: warning: results store {db}: row 2: unknown verdict 'exploded' (written by a newer Pv?); skipped" + Environment.NewLine, error);
        Assert.Contains($"3 run(s) from {db}; 1 unreadable row(s) skipped", output);
    }

    [Fact]
    public void Explore_resume_rewrites_a_deleted_counterexample_and_replay_reproduces_it()
    {
        string db = Temp("pv.db"), cx = Temp("z1.cx.json");
        // Z1 expects the O2 the search finds: as expected, exit 0, and so are the resumed search and the replay.
        var first = Run("explore", Z1, "--out", cx, "--db", db);
        Assert.Equal(PvExitCode.Ok, first.Exit);
        string written = File.ReadAllText(cx);
        File.Delete(cx);
        var resumed = Run("explore", Z1, "--out", cx, "--db", db, "--resume");
        Assert.Equal(PvExitCode.Ok, resumed.Exit);
        Assert.Equal(written, File.ReadAllText(cx));
        Assert.Contains($"replay it: pv replay {cx}", resumed.Out);
        Assert.Equal(PvExitCode.Ok, Run("replay", cx).Exit);
    }
}
