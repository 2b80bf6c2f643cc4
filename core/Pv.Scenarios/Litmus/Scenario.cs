// The parsed form of a scenario file (.pvl): its backends, machine options, the machine program (files and
// devices, mms, threads: Pv.Engine.Programs), the expectation and the default search. Every element keeps
// where it was written, so a later check (the backend exists, an address lies in a VMA, a CPU index is in
// range) can point at it. Nothing here runs anything: Litmus/ScenarioCompiler turns a checked Scenario into
// machines.
using Pv.Abstractions.Mm;
using Pv.Engine.Programs;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Litmus;

/// <summary>One problem found in a scenario file.</summary>
/// <param name="At">Where.</param>
/// <param name="Message">What is wrong and what was expected.</param>
public sealed record ScenarioDiagnostic(SourceSpan At, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{At}: {Message}";
}

/// <summary>A scenario file (or a counterexample) has problems; nothing was run. Bad input: `pv` exits 2.</summary>
public sealed class ScenarioException(IReadOnlyList<ScenarioDiagnostic> diagnostics)
    : Pv.Engine.PvInputException([.. diagnostics.Select(d => d.ToString())])
{
    /// <summary>Every problem, in file order.</summary>
    public IReadOnlyList<ScenarioDiagnostic> Diagnostics { get; } = diagnostics;
}

/// <summary>What a scenario expects.</summary>
/// <param name="Verdict">Clean, or the invariant expected to break.</param>
/// <param name="At">Where the expectation was written.</param>
public sealed record Expectation(Verdict Verdict, SourceSpan At);

/// <summary>One <c>cost</c> line: a key (an engine cost such as <c>ipiInitiator</c>, or one the backend declares) and its value.</summary>
/// <param name="Key">The key as written.</param>
/// <param name="Value">The value in the cost's unit (simulated nanoseconds, pages).</param>
/// <param name="At">Where the key was written.</param>
public sealed record CostSetting(string Key, long Value, SourceSpan At);

/// <summary>The default search of <c>pv explore</c> and <c>pv zoo</c> for this scenario.</summary>
/// <param name="Strategy">random, pct or dfs.</param>
/// <param name="Schedules">Budget of schedules.</param>
/// <param name="PctDepth">PCT bug depth.</param>
/// <param name="PreemptionBound">DFS preemption bound.</param>
public sealed record SearchDefaults(string Strategy = "pct", int Schedules = 10_000, int PctDepth = 3, int PreemptionBound = 2);

/// <summary>Parameters of a generated workload (the workload form).</summary>
/// <param name="Mix">fault-heavy, munmap-heavy, mprotect-heavy, fork-exit.</param>
/// <param name="Threads">User threads (one per CPU, round robin).</param>
/// <param name="Ops">Operations per thread.</param>
/// <param name="Pages">Pages in each thread's region.</param>
/// <param name="Mms">Address spaces the threads share out.</param>
/// <param name="At">Where declared.</param>
/// <param name="Preempt">vCPU preemptions a generated host thread makes (each vCPU in turn, preempted then resumed).</param>
/// <param name="Slice">Steps of the others each preemption lasts.</param>
public sealed record WorkloadDecl(WorkloadMix Mix, int Threads, int Ops, int Pages, int Mms, SourceSpan At, int Preempt = 0, int Slice = 50);

/// <summary>The generated operation mixes.</summary>
public enum WorkloadMix : byte
{
    /// <summary>Mostly accesses that fault pages in, some zaps.</summary>
    FaultHeavy,
    /// <summary>munmap and re-mmap of regions while others touch them.</summary>
    MunmapHeavy,
    /// <summary>mprotect toggling while others write.</summary>
    MprotectHeavy,
    /// <summary>fork, COW writes, exit of the child.</summary>
    ForkExit,
}

/// <summary>A parsed scenario file.</summary>
public sealed record Scenario
{
    /// <summary>The file path as given.</summary>
    public required string Path { get; init; }
    /// <summary>SHA-256 of the file's bytes (lower-case hex): counterexamples and the store key on it.</summary>
    public required string Hash { get; init; }
    /// <summary>The scenario's name (the file name without extension unless given).</summary>
    public required string Name { get; init; }
    /// <summary>The backend, from plugins.json.</summary>
    public required string Backend { get; init; }
    /// <summary>Where the backend was named.</summary>
    public required SourceSpan BackendAt { get; init; }
    /// <summary>The secondary-MMU backend SVA threads translate through, or null.</summary>
    public string? Smmu { get; init; }
    /// <summary>Where the secondary-MMU backend was named.</summary>
    public SourceSpan SmmuAt { get; init; }
    /// <summary>
    /// How CPU accesses translate, as an <c>mmu</c> line states it, or null without one: the backend's declaration
    /// (<c>PvBackendInfo.Mmu</c>) decides when the scenario is bound, and a line may only agree with it.
    /// </summary>
    public MmuKind? Mmu { get; init; }
    /// <summary>Where the <c>mmu</c> line gave its model.</summary>
    public SourceSpan MmuAt { get; init; }
    /// <summary>The machine's options (cost overrides apart).</summary>
    public required Pv.Engine.MachineOptions Options { get; init; }
    /// <summary>Cost overrides in file order (a later one wins), applied over the backend's; keys checked against the backend.</summary>
    public required IReadOnlyList<CostSetting> Cost { get; init; }
    /// <summary>Allocation failures injected at setup, per allocation site.</summary>
    public required IReadOnlyDictionary<Pv.Engine.Memory.AllocSite, int> FailAlloc { get; init; }
    /// <summary>What is expected.</summary>
    public required Expectation Expect { get; init; }

    /// <summary>The final condition over the operations' outcomes (<c>exists</c>, <c>~exists</c>, <c>forall</c>), or null.</summary>
    public FinalCondition? Final { get; init; }

    /// <summary>
    /// The scenario speaks of outcomes: a final condition, an operation's assertion or outcome name. Its runs then log every
    /// operation's outcome; other runs pay nothing for it.
    /// </summary>
    public bool HasOutcomes => Final is not null || Threads.Any(t => t.Ops.Any(o => o.Assert is not null || !o.Label.Contains('.')));
    /// <summary>Default search.</summary>
    public required SearchDefaults Search { get; init; }
    /// <summary>Files and devices.</summary>
    public required IReadOnlyList<FileDecl> Files { get; init; }
    /// <summary>The mms.</summary>
    public required IReadOnlyList<MmDecl> Mms { get; init; }
    /// <summary>The threads (empty for the workload form until generated).</summary>
    public required IReadOnlyList<ThreadDecl> Threads { get; init; }
    /// <summary>The workload form's parameters, or null for a litmus scenario.</summary>
    public WorkloadDecl? Workload { get; init; }
}
