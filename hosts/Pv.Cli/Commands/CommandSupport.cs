// What the scenario commands share: the --config/--json/--db/--time-limit/--jobs/--shard/--expect/--trace/--timeline
// options, loading plugins.json (any problem in it is bad input: every problem printed, nothing run), refusing a
// scenario with nothing to run, the results store, JSON output, the metrics table, a replayed run printed as a step
// list or a timeline, the live progress drawn on a terminal (WithProgress: never in redirected output or --json), and
// Guard: the one way a command body runs. Guard installs the run's watch (--time-limit and a second Ctrl-C ask the
// run to stop at its next schedule; a watchdog thread names a plugin call that never returns), turns the first
// Ctrl-C (the interrupt token, which the sessions honour between units of work) into exit 130 with what completed
// and the command line that goes on (--resume added to the user's own), and hands every failure to PvExitCode.
using System.CommandLine;
using System.Text.Json;
using Pv.Engine;
using Pv.Engine.Programs;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>A command's writers, working directory and shared options.</summary>
/// <param name="output">Where results go.</param>
/// <param name="error">Where errors go.</param>
/// <param name="locator">Where the default plugins.json and zoo are looked for, and what relative paths are resolved against.</param>
/// <param name="args">The command line as the user gave it, for the command that resumes an interrupted run.</param>
/// <param name="interrupt">The first Ctrl-C: finish the work in flight, then stop.</param>
/// <param name="stopNow">The second Ctrl-C: stop at the next schedule.</param>
/// <param name="live">Where live progress is drawn (a test's console); null: on <paramref name="output"/> when it is a terminal.</param>
internal sealed class CommandSupport(TextWriter output, TextWriter error, ConfigLocator locator, IReadOnlyList<string> args,
    CancellationToken interrupt, CancellationToken stopNow, IAnsiConsole? live)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;
    public string CurrentDirectory => Locator.CurrentDirectory;

    /// <summary>Where the default plugins.json and zoo are looked for.</summary>
    public ConfigLocator Locator { get; } = locator;

    /// <summary>The first Ctrl-C: the sessions start no more work once it is cancelled.</summary>
    public CancellationToken Interrupt => interrupt;

    /// <summary>The tally of the command's work once it started (what an interrupted command says it completed), and whether it is drawn.</summary>
    private volatile WorkTally? _tally;
    private volatile bool _drawn;

    public Option<string> Config { get; } = new("--config", "-c") { Description = ConfigDescription };

    /// <summary>What --config says it defaults to (the places ConfigLocator looks, in order).</summary>
    public const string ConfigDescription =
        "The plugins.json to load (default: ./plugins.json, else the Pv repository's, else $XDG_CONFIG_HOME/pv/plugins.json or ~/.config/pv/plugins.json, else the one installed with pv).";
    public Option<bool> Json { get; } = new("--json") { Description = "Write the result as JSON." };
    public Option<string> Db { get; } = new("--db") { Description = $"The results store (SQLite; default: {ResultsStore.DefaultFile} in the working directory).", DefaultValueFactory = _ => ResultsStore.DefaultFile };

    public Option<int> Jobs { get; } = new("--jobs", "-j") { Description = "Worker threads (default: one per core). The results do not depend on it.", DefaultValueFactory = _ => Environment.ProcessorCount };

    /// <summary>The --jobs value, checked.</summary>
    /// <exception cref="PvInputException">Less than 1.</exception>
    public int JobsOf(ParseResult parse) =>
        parse.GetValue(Jobs) is var n and >= 1 ? n : throw new PvInputException($"--jobs must be at least 1, found {parse.GetValue(Jobs)}");

    public Option<string> Shard { get; } = new("--shard") { Description = "K/N: run only shard K of N (0 <= K < N), the units of work i with i mod N = K; pv merge gathers the stores of explore and ab shards (docs/scale-out.md)." };

    /// <summary>The --shard value, checked (<see cref="Pv.Scenarios.Running.Shard.All"/> when not given).</summary>
    /// <exception cref="PvInputException">Not K/N with 0 &lt;= K &lt; N.</exception>
    public Shard ShardOf(ParseResult parse) => parse.GetValue(Shard) is { } text ? Pv.Scenarios.Running.Shard.Parse(text) : Pv.Scenarios.Running.Shard.All;

    public Option<double?> TimeLimit { get; } = new("--time-limit") { Description = "Stop after this many seconds of wall time (finished work is kept; a plugin call still running then is a plugin fault, exit 4)." };

    /// <summary>The longest one plugin call may take before the watchdog reports it as hung (exit 4): no simulated operation comes near it.</summary>
    public static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(10);

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string Full(string path) => Path.GetFullPath(path, CurrentDirectory);

    public Option<string> Expect { get; } = new("--expect") { Description = "Expect this verdict instead of the scenario's 'expect' line: clean or an invariant O1..O7." };

    /// <summary>
    /// <paramref name="scenario"/> expecting what --expect says, when it is given (as a scenario's expect line would);
    /// before the scenario is bound, which checks the expectation against the backend's MMU model (O6 needs host mappings).
    /// </summary>
    /// <exception cref="PvInputException">--expect is not clean or an invariant.</exception>
    public Scenario Expecting(ParseResult parse, Scenario scenario)
    {
        if (parse.GetValue(Expect) is not { } text) return scenario;
        if (!Verdicts.TryParse(text, out var verdict) || !(verdict == Verdict.Clean || verdict.IsViolation()))
            throw new PvInputException($"--expect {text}: expected clean or an invariant O1..O7");
        return scenario with { Expect = new Expectation(verdict, new SourceSpan("--expect", 0, 0)) };
    }

    /// <summary>
    /// <paramref name="bound"/>, unless it has nothing to run (threads without an operation): a run of no step checks
    /// nothing, so it is bad input (exit 2), never a pass.
    /// </summary>
    /// <exception cref="PvInputException">No thread of the scenario has an operation.</exception>
    public static BoundScenario Runnable(BoundScenario bound) =>
        bound.Scenario.Workload is not null || bound.Scenario.Threads.Any(t => t.Ops.Count > 0) ? bound
        : throw new PvInputException($"{bound.Scenario.Threads[0].At}: no thread has an operation: nothing to run");

    public Option<bool> Trace { get; } = new("--trace") { Description = "Print every step of the run (of the counterexample) in order: who ran it and each event with its operands labelled." };
    public Option<bool> Timeline { get; } = new("--timeline") { Description = "Print the run (the counterexample) as a timeline: a column per thread, a row per step." };

    /// <summary>Prints <paramref name="replay"/> as --trace (the step list) and --timeline (the columns) ask, each under its heading.</summary>
    public void PrintTrace(Replay replay, bool trace, bool timeline)
    {
        if (trace)
        {
            Output.WriteLine("trace:");
            foreach (var line in TraceText.Steps(replay)) Output.WriteLine(line);
        }
        if (timeline)
        {
            Output.WriteLine("timeline:");
            foreach (var line in TraceText.Timeline(replay, Terminal.Width(Output))) Output.WriteLine(line);
        }
    }

    /// <summary>The steps of <paramref name="replay"/> for JSON output: each event with its operands raw and labelled, a step that traced nothing with its note.</summary>
    public static object TraceJson(Replay replay) => replay.Steps.Select(st => new
    {
        step = st.Step, agent = st.Agent,
        events = st.Events.Select(e => new { e.What, a = $"{e.A:x}", b = $"{e.B:x}", text = e.Text }),
        note = st.Events.Count == 0 ? st.Note : null,
    });

    /// <summary>
    /// A pv command line to print (the replay of a counterexample, say): <paramref name="args"/>, and the --config this run
    /// was given, so that it loads the same plugins.json from any folder. Words a shell would split are quoted.
    /// </summary>
    public string PvCommand(ParseResult parse, params string[] args)
    {
        var words = args.Prepend("pv");
        if (parse.GetValue(Config) is { } given) words = words.Concat(["--config", Full(given)]);
        return string.Join(' ', words.Select(ShellWord));
    }

    /// <summary>
    /// The user's own command line, quoted for a shell where needed, with <c>--resume</c> added when <paramref name="resume"/>
    /// (unless given): the command an interrupted run prints to go on.
    /// </summary>
    public string CommandLine(bool resume) =>
        string.Join(' ', args.Concat(resume && !args.Contains("--resume") ? ["--resume"] : []).Prepend("pv").Select(ShellWord));

    /// <summary>What an interrupted explore or ab says: <paramref name="kept"/>, and the command that resumes it.</summary>
    public string Resumable(string kept) => $"{kept}{Environment.NewLine}pv: to go on: {CommandLine(resume: true)}";

    /// <summary>What an interrupted command without --resume says: <paramref name="kept"/>, and the command that runs it again.</summary>
    public string Rerun(string kept) => $"{kept}{Environment.NewLine}pv: to run it again: {CommandLine(resume: false)}";

    /// <summary><paramref name="word"/> as a shell reads it back: quoted when it holds anything a shell would split or expand.</summary>
    internal static string ShellWord(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:+@%,".Contains(c)) ? word : "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>plugins.json, loaded and free of problems.</summary>
    /// <exception cref="PvInputException">No plugins.json was found, or it has problems (each one located).</exception>
    public PluginCatalog LoadCatalog(ParseResult parse)
    {
        string path = parse.GetValue(Config) is { } given ? Full(given) : Locator.Find() ?? throw new PvInputException(Locator.NotFound());
        var catalog = PluginCatalog.Load(path);
        if (catalog.Diagnostics.Count == 0) return catalog;
        // A run on a half-broken configuration would hide the problem behind exit 0; `pv plugins` shows the rest.
        catalog.Dispose();
        throw new PvInputException([.. catalog.Diagnostics.Select(d => d.ToString())]);
    }

    /// <summary>
    /// Runs a command's <paramref name="body"/> and gives its exit code: the body's own (ok, violation), or the code
    /// <see cref="PvExitCode.For(Exception, TextWriter, string)"/> gives its failure. While it runs, the first Ctrl-C lets
    /// the work in flight finish and gives exit 130 when the command works in <paramref name="units"/> (its sessions start
    /// no more once interrupted), else stops it at its next schedule; the <paramref name="timeLimit"/> and a second Ctrl-C
    /// stop it at its next schedule. Either way what completed (the tally of <see cref="WithProgress"/>) and
    /// <paramref name="stopped"/> (what was kept, the command that goes on) are printed. A plugin call that overruns
    /// <see cref="CallLimit"/> or the time limit ends the process with exit 4.
    /// </summary>
    public int Guard(Func<int> body, string stopped = "nothing was saved; run the command again", double? timeLimit = null, bool units = false)
    {
        var watch = new RunWatch();
        try
        {
            if (timeLimit is <= 0) throw new PvInputException("--time-limit must be a positive number of seconds");
            using var installed = watch.Install();
            using var finishing = interrupt.Register(() =>
            {
                // A command that does not work in units (run, replay, conform) has none to finish: it stops at its next schedule.
                if (!units) watch.RequestStop("interrupted (Ctrl-C)");
                // The live display says it in place; written beside it, a line would be torn by the next redraw.
                else if (_drawn && _tally is { } tally) tally.Stop();
                else Error.WriteLine("pv: interrupted (Ctrl-C): finishing the work in flight, then stopping; Ctrl-C again to stop at once");
            });
            using var now = stopNow.Register(() => watch.RequestStop("interrupted (Ctrl-C twice)"));
            // A hung call cannot be interrupted: the watchdog reports it and ends the process.
            using var watchdog = new PluginWatchdog(watch, timeLimit is { } t ? TimeSpan.FromSeconds(t) : null, CallLimit,
                hang => Environment.Exit(PvExitCode.For(hang, Error)), what => Environment.Exit(PvExitCode.ForStuckRun(what, Error)));
            return body();
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            return PvExitCode.ForInterrupt(Error, Completed(stopped));
        }
        catch (Exception e)
        {
            return PvExitCode.For(e, Error, Completed(stopped));
        }
    }

    /// <summary><paramref name="stopped"/>, after what the command completed when it counts its work.</summary>
    private string Completed(string stopped) => _tally is { } tally ? $"{tally.Summary}; {stopped}" : stopped;

    /// <summary>The store of --db, opened for writing (its directory created, a write tried) before anything is simulated.</summary>
    public ResultsStore OpenStore(ParseResult parse) => ResultsStore.Open(Full(parse.GetValue(Db)!));

    /// <summary>Warns of each row of <paramref name="store"/> that could not be read (named by file and row, and skipped).</summary>
    public void ReportSkipped(ResultsStore store) => ReportSkipped(store.SkippedRows);

    /// <summary>Warns of each unreadable row in <paramref name="skipped"/> (each naming its file and row).</summary>
    public void ReportSkipped(IEnumerable<string> skipped)
    {
        foreach (var problem in skipped) Error.WriteLine($"pv: warning: {problem}");
    }

    public void WriteJson(object value) => Output.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    /// <summary>A table of counters (zero counters left out) with simulated time.</summary>
    public static Table MetricsTable(IReadOnlyDictionary<string, long> metrics)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Metric", "Value");
        table.Columns[1].RightAligned();
        foreach (var (name, value) in metrics.Where(kv => kv.Value != 0)) table.AddRow(Markup.Escape(name), value.ToString("N0"));
        return table;
    }

    /// <summary>The verdict line, with the expectation.</summary>
    public static string VerdictLine(Scenario scenario, Verdict verdict) =>
        VerdictLine(verdict, scenario.Expect.Verdict);

    /// <summary>The verdict line of <paramref name="found"/> against <paramref name="expected"/>.</summary>
    public static string VerdictLine(Verdict found, Verdict expected) =>
        $"verdict: {found.ToText()} (expected {expected.ToText()}){(found.Meets(expected) ? "" : " — NOT AS EXPECTED")}";

    /// <summary>
    /// Runs <paramref name="body"/>, which reports its work to <paramref name="tally"/>, with the tally drawn live under
    /// <paramref name="title"/> (count, rate, time left, found so far) when the output is a terminal and not
    /// <paramref name="json"/>; otherwise nothing is drawn and the output is what the body prints. The display stays when
    /// done unless <paramref name="clear"/>. The tally is what an interrupted command says it completed.
    /// </summary>
    public T WithProgress<T>(bool json, WorkTally tally, string title, bool clear, Func<T> body)
    {
        _tally = tally;
        if (json || (live ?? Terminal.CreateLive(Output)) is not { } console) return body();
        _drawn = true;
        try
        {
            return LiveProgress.Run(console, tally, title, clear, body);
        }
        finally
        {
            _drawn = false;
        }
    }
}
