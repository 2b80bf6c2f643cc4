// Ctrl-C through the real CLI (the host's interrupt token, cancelled as Program.cs cancels it on the first Ctrl-C):
// the command finishes the work in flight, exits 130, says what completed and prints the user's own command line
// with --resume added (quoted for a shell); that command, run as printed, completes the work without a duplicate row
// in `pv history`, and so does running the same work again without --resume. zoo and soak store nothing: they print
// the command that runs them again.
using System.Text;
using Microsoft.Data.Sqlite;

namespace Pv.Cli.Tests;

public sealed class InterruptTests
{
    private static readonly string Config = Path.Combine(Fixtures.RepoRoot, "plugins.json");
    private static readonly string Zoo = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo");

    /// <summary>pv <paramref name="args"/> in the temporary folder, interrupted by <paramref name="interrupt"/>.</summary>
    private static (int Exit, string Out, string Err) Run(CancellationToken interrupt, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run(args, output, error, Path.GetTempPath(), interrupt);
        return (exit, output.ToString(), error.ToString());
    }

    private static CancellationToken Cancelled => new(canceled: true);

    /// <summary>The rows of the store at <paramref name="db"/>, as `pv history` counts them.</summary>
    private static int HistoryRows(string db)
    {
        var (exit, output, _) = Cli.Run(Path.GetTempPath(), "history", "--db", db, "--limit", "100000");
        Assert.Equal(PvExitCode.Ok, exit);
        return int.Parse(output.Split('\n').Single(l => l.Contains(" run(s) from ")).Split(' ')[0]);
    }

    /// <summary>The command after <paramref name="lead"/> in <paramref name="error"/>, split as a POSIX shell splits it (single quotes, backslash).</summary>
    private static string[] Printed(string error, string lead)
    {
        string line = error.Split('\n').Select(l => l.TrimEnd('\r')).Single(l => l.StartsWith(lead, StringComparison.Ordinal));
        var words = new List<string>();
        var word = new StringBuilder();
        bool quoted = false, escaped = false, any = false;
        foreach (char c in line[lead.Length..])
        {
            if (escaped) { word.Append(c); escaped = false; }
            else if (c == '\\' && !quoted) { escaped = true; any = true; }
            else if (c == '\'') { quoted = !quoted; any = true; }
            else if (c == ' ' && !quoted)
            {
                if (any) words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else { word.Append(c); any = true; }
        }
        if (any) words.Add(word.ToString());
        Assert.Equal("pv", words[0]);
        return [.. words.Skip(1)];
    }

    [Fact]
    public void Ctrl_C_during_explore_finishes_the_chunks_in_flight_says_what_completed_and_the_printed_resume_completes_it()
    {
        string db = Cli.Db();
        string[] args = ["explore", Path.Combine(Zoo, "z1-gup-fast-vs-munmap-fixed.pvl"), "-n", "40000", "--jobs", "2", "--out", Path.ChangeExtension(db, ".cx.json"), "--db", db, "--config", Config];
        using var interrupt = new CancellationTokenSource();
        // Ctrl-C once the first chunks are stored: the store is the user's file, read as any other reader would.
        var watcher = new Thread(() =>
        {
            while (!interrupt.IsCancellationRequested)
            {
                try
                {
                    using var read = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
                    read.Open();
                    using var count = read.CreateCommand();
                    count.CommandText = "SELECT count(*) FROM runs";
                    if ((long)count.ExecuteScalar()! > 0) interrupt.Cancel();
                }
                catch (SqliteException)
                {
                    // Not created yet.
                }
                Thread.Sleep(5);
            }
        });
        watcher.Start();
        var (exit, output, error) = Run(interrupt.Token, args);
        interrupt.Cancel();
        watcher.Join();

        Assert.Equal((PvExitCode.Interrupted, ""), (exit, output));
        var said = System.Text.RegularExpressions.Regex.Match(error,
            @"^pv: interrupted \(Ctrl-C\): finishing the work in flight, then stopping; Ctrl-C again to stop at once\r?\n" +
            @"pv: interrupted \(Ctrl-C\): ([\d,]+) of 40,000 schedules done, 0 violations so far; the store holds every finished chunk of schedules\r?\n" +
            @"pv: to go on: pv .*\r?\n$");
        Assert.True(said.Success, error);
        // What it says completed is what the store holds: every chunk begun was finished and stored, none after.
        long done = long.Parse(said.Groups[1].Value.Replace(",", ""));
        Assert.InRange(done, 1_000, 39_000);
        Assert.Equal(done / 1000, HistoryRows(db));

        var resume = Printed(error, "pv: to go on: ");
        Assert.Equal([.. args, "--resume"], resume);
        var resumed = Cli.Run(Path.GetTempPath(), resume);
        Assert.Equal((PvExitCode.Ok, ""), (resumed.Exit, resumed.Err));
        Assert.StartsWith("40,000 schedules, no violation", resumed.Out);
        Assert.Equal(40, HistoryRows(db));
    }

    [Fact]
    public void Ctrl_C_during_ab_prints_a_resume_command_quoted_for_a_shell_and_reruns_keep_one_row_per_seed()
    {
        // A folder with a space and a quote in its name: the printed command must survive a shell.
        string folder = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"), "it's a dir");
        Directory.CreateDirectory(folder);
        string scenario = Path.Combine(folder, "z1.pvl");
        File.Copy(Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), scenario);
        string db = Path.Combine(folder, "pv.db");
        string[] args = ["ab", scenario, "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "3", "--schedules", "5", "--db", db, "--config", Config];

        var (exit, output, error) = Run(Cancelled, args);
        Assert.Equal((PvExitCode.Interrupted, ""), (exit, output));
        Assert.Contains("pv: interrupted (Ctrl-C): 0 of 6 seed runs done, 0 seed runs not clean so far; each finished seed is stored", error);
        Assert.Contains($"pv: to go on: pv ab '{folder.Replace("'", "'\\''")}/z1.pvl' --a", error);
        var resume = Printed(error, "pv: to go on: ");
        Assert.Equal([.. args, "--resume"], resume);

        var resumed = Cli.Run(Path.GetTempPath(), resume);
        Assert.Equal(PvExitCode.Violation, resumed.Exit);
        Assert.Equal(6, HistoryRows(db));
        // The same work again, without --resume and then with it: each (side, seed) keeps its one row.
        Assert.Equal(PvExitCode.Violation, Cli.Run(Path.GetTempPath(), args).Exit);
        Assert.Equal(PvExitCode.Violation, Cli.Run(Path.GetTempPath(), resume).Exit);
        Assert.Equal(6, HistoryRows(db));
    }

    [Fact]
    public void Explore_run_twice_without_resume_replaces_its_rows()
    {
        string db = Cli.Db();
        string[] args = ["explore", Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), "--out", Path.ChangeExtension(db, ".cx.json"), "--no-minimise", "--db", db, "--config", Config];
        var first = Cli.Run(Path.GetTempPath(), args);
        int rows = HistoryRows(db);
        Assert.True(rows > 0);
        var second = Cli.Run(Path.GetTempPath(), args);
        Assert.Equal((first.Exit, rows), (second.Exit, HistoryRows(db)));
    }

    [Theory]
    [InlineData("zoo", "0 of 1 entries done, 0 entries not as expected so far; a zoo run stores nothing")]
    [InlineData("soak", "0 of 2 scenarios done, 0 findings so far; the findings so far are saved in the --out folder; nothing else is kept")]
    public void Ctrl_C_during_zoo_or_soak_says_what_completed_and_prints_the_command_to_run_again(string command, string said)
    {
        string findings = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        string[] args = command == "zoo"
            ? ["zoo", "--only", "z1-gup-fast-vs-munmap.pvl", "--config", Config]
            : ["soak", "--scenarios", "2", "--schedules", "10", "--backend", "x86-native", "--out", findings, "--config", Config];
        var (exit, output, error) = Run(Cancelled, args);
        Assert.Equal((PvExitCode.Interrupted, ""), (exit, output));
        Assert.Contains($"pv: interrupted (Ctrl-C): {said}", error);
        // Nothing to resume: the same command, as given.
        Assert.Equal(args, Printed(error, "pv: to run it again: "));
    }
}
