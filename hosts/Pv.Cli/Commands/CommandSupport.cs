// What the scenario commands share: the --config/--json/--db options, loading plugins.json and a scenario
// file with every problem printed as file:line:column (exit 2, nothing run), the results store (an unreadable
// one is exit 2), JSON output, the metrics table and the progress bar drawn on a terminal. A failure inside an
// operation (an mmap over an existing VMA, say) is a problem of the scenario, reported as bad input with the
// thread named, never a crash. A failed invariant of the engine itself is an internal error (exit 3) with the
// schedule that reaches it.
using System.CommandLine;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Pv.Engine;
using Pv.Engine.Programs;
using Pv.Hosting;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>A command's writers, working directory and shared options.</summary>
internal sealed class CommandSupport(TextWriter output, TextWriter error, string currentDirectory)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;
    public string CurrentDirectory { get; } = currentDirectory;

    public Option<string> Config { get; } = new("--config", "-c") { Description = "The plugins.json to load (default: ./plugins.json, else the Pv repository's)." };
    public Option<bool> Json { get; } = new("--json") { Description = "Write the result as JSON." };
    public Option<string> Db { get; } = new("--db") { Description = $"The results store (SQLite; default: {ResultsStore.DefaultFile} in the working directory).", DefaultValueFactory = _ => ResultsStore.DefaultFile };

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string Full(string path) => Path.GetFullPath(path, CurrentDirectory);

    /// <summary>plugins.json, or null after printing why not (exit 2).</summary>
    public PluginCatalog? LoadCatalog(ParseResult parse)
    {
        string? path = parse.GetValue(Config) is { } given ? Full(given) : ConfigLocator.Find(CurrentDirectory);
        if (path is null)
        {
            Error.WriteLine($"pv: no plugins.json in {CurrentDirectory} or at the root of a Pv repository above it; pass --config FILE");
            return null;
        }
        var catalog = PluginCatalog.Load(path);
        if (catalog.Diagnostics.Count == 0) return catalog;
        foreach (var d in catalog.Diagnostics) Error.WriteLine($"pv: {d}");
        // A broken plugin does not stop the others; a scenario on a usable backend still runs.
        return catalog;
    }

    /// <summary>Runs <paramref name="body"/>, turning scenario problems and store errors into exit 2 with located messages.</summary>
    public int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ScenarioException e)
        {
            foreach (var d in e.Diagnostics) Error.WriteLine($"pv: {d}");
            return PvExitCode.BadInput;
        }
        catch (ProgramMisuseException e)
        {
            Error.WriteLine($"pv: {(e.At is { } at ? $"{at}: " : "")}{e.Message} (step {e.Step}, {e.Agent})");
            return PvExitCode.BadInput;
        }
        catch (SimulationInternalError e)
        {
            Error.WriteLine($"pv: internal error (a bug in Pv, not in the scenario): {e.Message}");
            Error.WriteLine($"pv: the schedule that reaches it: {string.Join(' ', e.Schedule)}");
            return PvExitCode.InternalError;
        }
        catch (EngineBugException e)
        {
            Error.WriteLine($"pv: internal error (a bug in Pv, not in the scenario): {e.Message}");
            return PvExitCode.InternalError;
        }
        catch (Exception e) when (e is SqliteException or InvalidDataException)
        {
            Error.WriteLine($"pv: results store: {e.Message}");
            return PvExitCode.BadInput;
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or ArgumentException or InsufficientMemoryException)
        {
            Error.WriteLine($"pv: an operation of the scenario cannot run: {e.Message}");
            return PvExitCode.BadInput;
        }
    }

    public ResultsStore OpenStore(ParseResult parse) => ResultsStore.Open(Full(parse.GetValue(Db)!));

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
        $"verdict: {verdict.ToText()} (expected {scenario.Expect.Verdict.ToText()}){(verdict == scenario.Expect.Verdict ? "" : " — NOT AS EXPECTED")}";

    /// <summary>
    /// Runs <paramref name="body"/> under a progress bar titled <paramref name="title"/> up to <paramref name="max"/> when the
    /// output is a terminal and not <paramref name="json"/>; otherwise runs it with no progress callback. The bar stays
    /// drawn when done unless <paramref name="clear"/>; <paramref name="eta"/> adds the remaining-time column.
    /// </summary>
    public T WithProgress<T>(bool json, string title, long max, bool clear, bool eta, Func<Action<long>?, T> body)
    {
        if (json || !Terminal.IsInteractive(Output)) return body(null);
        T result = default!;
        ProgressColumn[] columns = eta
            ? [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn()]
            : [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()];
        Terminal.Create(Output).Progress().AutoClear(clear).Columns(columns).Start(ctx =>
        {
            var task = ctx.AddTask(title, maxValue: max);
            result = body(done => task.Value = done);
            task.Value = max;
        });
        return result;
    }
}
