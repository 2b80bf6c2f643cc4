// A counterexample file: what `pv explore` writes on a violation and `pv replay` reads. It names the scenario
// file (path and SHA-256, so a changed file is refused rather than replayed wrongly), the backend, the
// workload seed, what the minimiser left out, and the schedule (entity ids) that breaks the invariant. It is
// assembled in one place (Counterexample.Of, FoundCounterexample.Assemble) for `pv explore` and `pv soak` alike.
// Replaying it rebuilds the same machine and follows the schedule strictly, with a trace deep enough to show
// every step of every thread.
using System.Text.Json;
using System.Text.Json.Serialization;
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Scenarios.Litmus;
using Pv.Engine.Programs;
using Pv.Scenarios.Store;
using Pv.Hosting.Config;

namespace Pv.Scenarios.Running;

/// <summary>One left-out operation.</summary>
/// <param name="Thread">The thread's name.</param>
/// <param name="Op">Index of the operation in the thread's list (from 0).</param>
public sealed record OmittedOp(string Thread, int Op);

/// <summary>A counterexample, as stored in JSON.</summary>
public sealed record Counterexample
{
    /// <summary>The scenario file, absolute.</summary>
    public required string Scenario { get; init; }
    /// <summary>SHA-256 of the scenario file when the counterexample was found.</summary>
    public required string ScenarioHash { get; init; }
    /// <summary>The backend.</summary>
    public required string Backend { get; init; }
    /// <summary>The workload seed (0 for a litmus scenario).</summary>
    public required ulong Seed { get; init; }
    /// <summary>The search that found it: strategy and the schedule seed of the violating schedule's chunk.</summary>
    public required string Strategy { get; init; }
    /// <summary>The invariant that broke (or, for a soak finding, internal-error); stored as the verdict's text.</summary>
    public required Verdict Invariant { get; init; }
    /// <summary>The violation as the oracle reported it.</summary>
    public required string Violation { get; init; }
    /// <summary>Threads left out by the minimiser.</summary>
    public required IReadOnlyList<string> OmitThreads { get; init; }
    /// <summary>Operations left out by the minimiser.</summary>
    public required IReadOnlyList<OmittedOp> OmitOps { get; init; }
    /// <summary>The schedule: entity ids, one per step.</summary>
    public required IReadOnlyList<int> Schedule { get; init; }
    /// <summary>The Pv version that wrote it.</summary>
    public required string PvVersion { get; init; }

    // Nullable annotations are respected, so a null where the record has none ("schedule": null) is refused with its path.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never, RespectNullableAnnotations = true };

    /// <summary>The omissions to compile with (also written to the file, as it always was).</summary>
    public Omissions Omissions => new(OmitThreads, OmitOps.Select(o => (o.Thread, o.Op)).ToList());

    /// <summary>What the minimiser left out, as printed: <c>threads [t2], operations [t1#3]</c>.</summary>
    [JsonIgnore]
    public string OmittedText => $"threads [{string.Join(", ", OmitThreads)}], operations [{string.Join(", ", OmitOps.Select(o => $"{o.Thread}#{o.Op}"))}]";

    /// <summary>
    /// The counterexample of <paramref name="verdict"/> on <paramref name="bound"/> (workload seed <paramref name="seed"/>), found
    /// by <paramref name="strategy"/>: <paramref name="schedule"/> reaches it once <paramref name="omitted"/> is left out.
    /// </summary>
    public static Counterexample Of(BoundScenario bound, ulong seed, string strategy, Verdict verdict, string violation,
        IReadOnlyList<int> schedule, Omissions? omitted) => new()
    {
        Scenario = Path.GetFullPath(bound.Scenario.Path), ScenarioHash = bound.Scenario.Hash, Backend = bound.Backend.Name, Seed = seed,
        Strategy = strategy, Invariant = verdict, Violation = violation,
        OmitThreads = omitted?.Threads ?? [], OmitOps = omitted?.Ops.Select(o => new OmittedOp(o.Thread, o.Op)).ToList() ?? [],
        Schedule = schedule, PvVersion = StoredRuns.PvVersion,
    };

    /// <summary>
    /// Writes the file whole or not at all (a temporary file beside it, renamed over it), so a kill never leaves half a
    /// counterexample where `pv explore --resume` or `pv replay` would read it. Its directory is created.
    /// </summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string partial = path + ".partial";
        File.WriteAllText(partial, JsonSerializer.Serialize(this, Json) + "\n");
        File.Move(partial, path, overwrite: true);
    }

    /// <summary>Reads a counterexample file.</summary>
    /// <exception cref="ScenarioException">Missing, not JSON, or missing fields (located at line and column where JSON says).</exception>
    public static Counterexample Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<Counterexample>(InputFile.Read(path), Json)
                ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new ScenarioException([new ScenarioDiagnostic(new SourceSpan(path, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1),
                $"not a counterexample file: {Describe(e)}")]);
        }
        catch (InputFileException e)
        {
            throw new ScenarioException([new ScenarioDiagnostic(new SourceSpan(path, 1, 1), $"cannot read the counterexample: {e.Reason}")]);
        }
    }

    /// <summary>The serializer's complaint in a user's terms: the JSON path first, without its advice to the programmer.</summary>
    private static string Describe(JsonException e)
    {
        string message = e.Message;
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        message = JsonErrorText.OneLine(message);
        if (message.Contains("doesn't allow setting null values", StringComparison.Ordinal)) message = "is null; a value is required";
        return e.Path is { } at ? $"{at}: {message}" : message;
    }
}

/// <summary>A violation found by a search, minimised or not, and the counterexample that replays it.</summary>
/// <param name="Found">The violating run as the search found it.</param>
/// <param name="Minimised">What the minimiser made of it, or null (not minimised, or the minimiser failed).</param>
/// <param name="Counterexample">The counterexample of <see cref="Final"/>.</param>
public sealed record FoundCounterexample(RunResult Found, ScenarioRunner.Minimised? Minimised, Counterexample Counterexample)
{
    /// <summary>The run the counterexample replays: the minimised one if there is one.</summary>
    public RunResult Final => Minimised?.Result ?? Found;

    /// <summary>
    /// Assembles the counterexample of <paramref name="found"/> (a violating run of <paramref name="bound"/>, workload seed
    /// <paramref name="seed"/>, found by <paramref name="strategy"/>), from <paramref name="minimised"/> when given.
    /// </summary>
    public static FoundCounterexample Assemble(BoundScenario bound, ulong seed, string strategy, RunResult found, ScenarioRunner.Minimised? minimised)
    {
        var final = minimised?.Result ?? found;
        var v = final.Report!.Violation;
        return new FoundCounterexample(found, minimised,
            Counterexample.Of(bound, seed, strategy, Verdicts.Of(v.Id), v.ToString(), final.Schedule, minimised?.Omitted));
    }
}

/// <summary>One step of a replay.</summary>
/// <param name="Step">Machine-wide step number.</param>
/// <param name="Entity">The id of who ran it, as the schedule records it.</param>
/// <param name="Agent">Who ran it, by name (a thread, a CPU's IPI delivery <c>irqN</c>, RCU's softirq <c>rcu</c>).</param>
/// <param name="Events">What the step did, in kernel terms (from the entity's trace).</param>
/// <param name="Note">For a step that traced nothing, what it left its entity doing (waiting for a lock, done, ...).</param>
public sealed record ReplayStep(long Step, int Entity, string Agent, IReadOnlyList<TraceEntry> Events, string Note);

/// <summary>A translation involved in the violation, as it stands at the end of the replay.</summary>
/// <param name="Where">"cpu1 TLB", "PTE".</param>
/// <param name="Text">The entry.</param>
public sealed record InvolvedEntry(string Where, string Text);

/// <summary>The result of replaying a schedule.</summary>
/// <param name="Result">The run.</param>
/// <param name="Expected">What the scenario expects (its <c>expect</c> line).</param>
/// <param name="Entities">The scheduled entities' names by id: the columns a timeline can have.</param>
/// <param name="Steps">Every step with its events.</param>
/// <param name="Entries">TLB and page-table entries of the violating address.</param>
/// <param name="Threads">Each thread's (then interrupt context's) name and its own steps.</param>
public sealed record Replay(RunResult Result, Verdict Expected, IReadOnlyList<string> Entities, IReadOnlyList<ReplayStep> Steps,
    IReadOnlyList<InvolvedEntry> Entries, IReadOnlyList<(string Thread, IReadOnlyList<TraceEntry> Steps)> Threads)
{
    /// <summary>The invariant that broke on the way, or clean (a replay that deadlocks or stops early is clean too).</summary>
    public Verdict Verdict => Verdicts.Of(Result.Report?.Violation);
}

/// <summary>Replays counterexamples, and any recorded schedule, with every step traced.</summary>
public static class CounterexampleReplay
{
    /// <summary>
    /// Replays <paramref name="cx"/> against <paramref name="catalog"/>.
    /// </summary>
    /// <exception cref="ScenarioException">The scenario file changed since, or the backend is unknown.</exception>
    /// <exception cref="ReplayDivergedException">The schedule does not fit the run (the backend's plugin changed).</exception>
    /// <param name="cx">The counterexample.</param>
    /// <param name="catalog">The plugins.</param>
    /// <param name="file">The counterexample's file, for errors that point into it.</param>
    public static Replay Run(Counterexample cx, PluginCatalog catalog, string file = "the counterexample")
    {
        var bound = BoundScenario.Load(cx.Scenario, catalog, cx.Backend);
        if (bound.Scenario.Hash != cx.ScenarioHash)
            throw new ScenarioException([new ScenarioDiagnostic(new SourceSpan(cx.Scenario, 1, 1),
                $"the scenario file changed since the counterexample was written (SHA-256 {bound.Scenario.Hash}, expected {cx.ScenarioHash}); run pv explore again")]);
        using var compiled = Compile(bound, cx.Seed, cx.Omissions, cx.Schedule);
        CheckOmissions(cx, compiled.Scenario, file);
        return Follow(bound, compiled, cx.Schedule);
    }

    /// <summary>
    /// Replays <paramref name="schedule"/> of <paramref name="bound"/> (workload seed <paramref name="seed"/>, without
    /// <paramref name="omissions"/>): the run of <c>pv run</c> or a zoo entry's counterexample again, every step traced.
    /// </summary>
    /// <exception cref="ReplayDivergedException">The schedule does not fit the run.</exception>
    public static Replay Run(BoundScenario bound, ulong seed, Omissions? omissions, IReadOnlyList<int> schedule)
    {
        using var compiled = Compile(bound, seed, omissions, schedule);
        return Follow(bound, compiled, schedule);
    }

    // Deep enough that no ring drops an event of the schedule (a step traces a few events; a multicall more).
    private static CompiledScenario Compile(BoundScenario bound, ulong seed, Omissions? omissions, IReadOnlyList<int> schedule) =>
        bound.Compile(seed, omissions, traceDepth: schedule.Count * 8 + 64);

    private static Replay Follow(BoundScenario bound, CompiledScenario compiled, IReadOnlyList<int> schedule)
    {
        var m = compiled.Build();
        var result = m.Run(new ReplayPolicy(schedule), noteSteps: true);
        var traces = m.EntityTraces;
        var byStep = traces.SelectMany(t => t.Steps).ToLookup(e => e.Step);
        var entities = m.EntityNames;
        var steps = result.Schedule.Select((id, i) => new ReplayStep(i, id, entities[id], byStep[i].ToList(), m.StepNotes[i])).ToList();
        var involved = result.Report?.Violation is { } v
            ? m.DescribeTranslation(v.Mm, v.Address).Select(e => new InvolvedEntry(e.Where, e.What)).ToList()
            : [];
        return new Replay(result, bound.Scenario.Expect.Verdict, entities, steps, involved, traces);
    }

    /// <summary>What the minimiser left out must name the scenario's threads and operations: anything else was edited in.</summary>
    /// <exception cref="PvInputException">An omission names no thread or operation of the scenario, located in <paramref name="file"/>.</exception>
    private static void CheckOmissions(Counterexample cx, Scenario scenario, string file)
    {
        var threads = scenario.Threads.ToDictionary(t => t.Name, t => t.Ops.Count, StringComparer.Ordinal);
        for (int i = 0; i < cx.OmitThreads.Count; i++)
            if (!threads.ContainsKey(cx.OmitThreads[i]))
                throw new PvInputException($"{file}: $.omitThreads[{i}]: the scenario has no thread '{cx.OmitThreads[i]}'");
        for (int i = 0; i < cx.OmitOps.Count; i++)
            if (!threads.TryGetValue(cx.OmitOps[i].Thread, out int ops) || cx.OmitOps[i].Op < 0 || cx.OmitOps[i].Op >= ops)
                throw new PvInputException($"{file}: $.omitOps[{i}]: the scenario has no operation {cx.OmitOps[i].Op} of thread '{cx.OmitOps[i].Thread}'");
    }
}
