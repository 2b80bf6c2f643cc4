// Turns a checked scenario into machines: one Machine per compiled scenario, reset for every schedule after
// the first (Machine.Reset: as new, bit for bit, without building its tables and counters again), with a new
// DI scope of the backend's BackendHost each time (the real loader, DI and counting decorator; the backend
// is composed once per run; plugin objects never outlive their schedule), loaded with the scenario's machine
// program (Pv.Engine.Programs.MachineProgram: setup and every thread's operations). Setup is deterministic,
// so a schedule replays bit for bit. Threads or operations can be left
// out (the minimiser does so): the program is cut once, and each build loads the same program.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Programs;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Litmus;

/// <summary>Operations left out of a scenario (by the minimiser): whole threads, or single operations.</summary>
/// <param name="Threads">Names of threads left out.</param>
/// <param name="Ops">(thread name, index of the operation in its list) left out.</param>
public sealed record Omissions(IReadOnlyList<string> Threads, IReadOnlyList<(string Thread, int Op)> Ops)
{
    /// <summary>Nothing left out.</summary>
    public static Omissions None { get; } = new([], []);
}

/// <summary>A scenario bound to a backend: builds one machine per schedule.</summary>
public sealed class CompiledScenario : IDisposable
{
    private readonly BackendHost _host;
    private readonly ResolvedBackend? _smmu;
    private readonly MachineOptions _options;
    private readonly BackendCosts _costs;
    private readonly MachineProgram _program;
    private PvMachine? _last;
    private IServiceScope? _smmuServices;

    /// <summary>
    /// Binds <paramref name="scenario"/> (threads present: litmus, or a generated workload) to <paramref name="backend"/>,
    /// and its SVA threads to the secondary-MMU backend <paramref name="smmu"/>.
    /// </summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="backend">The CPU backend.</param>
    /// <param name="smmu">The secondary-MMU backend, or null.</param>
    /// <param name="omissions">Threads and operations left out (the minimiser's).</param>
    /// <param name="traceDepth">Trace ring size, when not the scenario's.</param>
    /// <param name="outcomes">Log every operation's outcome even when the scenario does not speak of outcomes (<c>--outcomes</c>).</param>
    public CompiledScenario(Scenario scenario, ResolvedBackend backend, ResolvedBackend? smmu, Omissions? omissions = null, int? traceDepth = null, bool outcomes = false)
    {
        _smmu = smmu;
        Scenario = scenario;
        Omitted = omissions ?? Omissions.None;
        // One machine, one cost table: the backend's costs and the secondary-MMU backend's declared ones. A cost line's
        // key must be one of them; a bad one is reported where the scenario wrote it.
        var costs = smmu is null ? backend.Costs : backend.Costs.Including(smmu.Costs);
        var badCosts = scenario.Cost.Select(c => (c.At, Problem: costs.KeyProblem(c.Key))).Where(c => c.Problem is not null)
            .Select(c => new ScenarioDiagnostic(c.At, c.Problem!)).ToList();
        if (badCosts.Count > 0) throw new ScenarioException(badCosts);
        _costs = costs.With(scenario.Cost.Select(c => KeyValuePair.Create(c.Key, c.Value)));
        _host = backend.Host;
        Backend = backend.Name;
        _options = traceDepth is int d ? scenario.Options with { TraceDepth = d } : scenario.Options;
        var threads = Threads.Select(t => t with { Ops = [.. t.Ops.Where((_, i) => !Omitted.Ops.Contains((t.Name, i)))] }).ToList();
        _program = new MachineProgram(BoundScenario.MmuOf(backend), scenario.Files, scenario.Mms, threads, scenario.FailAlloc);
        if (scenario.HasOutcomes || outcomes) Outcomes = new OutcomeLog(FinalStateNames(scenario), scenario.Final);
    }

    /// <summary>
    /// The outcomes of the last build's run, and what every completed run of this compiled scenario ended in (the final
    /// states and how many satisfied the final condition); null when nothing asked for outcomes.
    /// </summary>
    public OutcomeLog? Outcomes { get; }

    /// <summary>
    /// The operations a final state lists, in declaration order: the named ones (<c>as NAME</c>) and those the final
    /// condition mentions; if there are none, every operation that returns something (accesses, GUP, guard madvise).
    /// </summary>
    private static IEnumerable<string> FinalStateNames(Scenario scenario)
    {
        var ops = scenario.Threads.SelectMany(t => t.Ops).ToList();
        var mentioned = scenario.Final?.Condition.Names().Select(n => n.Name).ToHashSet(StringComparer.Ordinal) ?? [];
        var named = ops.Where(o => !o.Label.Contains('.') || mentioned.Contains(o.Label)).Select(o => o.Label).ToList();
        return named.Count > 0 ? named
            : ops.Where(o => o.Kind is OpKind.Read or OpKind.Write or OpKind.Exec or OpKind.Gup or OpKind.GupFast or OpKind.MadviseGuard or OpKind.MadviseGuardRemove)
                .Select(o => o.Label);
    }

    /// <summary>The scenario.</summary>
    public Scenario Scenario { get; }

    /// <summary>What is left out.</summary>
    public Omissions Omitted { get; }

    /// <summary>The threads that run, after omissions, in entity-id order.</summary>
    public IEnumerable<ThreadDecl> Threads => Scenario.Threads.Where(t => !Omitted.Threads.Contains(t.Name));

    /// <summary>The backend's name.</summary>
    public string Backend { get; }

    /// <summary>Entity id of each running thread of the last build, by the scenario's thread name.</summary>
    public IReadOnlyDictionary<string, int> ThreadIds { get; private set; } = new Dictionary<string, int>();

    /// <summary>
    /// The machine <see cref="Build"/> made last: after an exception escapes a run, its scheduler still holds the
    /// schedule up to the failing step (pv soak saves it as an internal-error finding).
    /// </summary>
    public Machine? Last { get; private set; }

    /// <summary>Machines built so far (schedules started).</summary>
    public long Built { get; private set; }

    /// <summary>
    /// A machine as new, set up and with every thread queued: the previous one reset (its plugin services disposed and
    /// composed again), or a new one the first time. It stays usable until the next call. Every schedule of every command
    /// starts here, so this is where a requested stop (Ctrl-C, --time-limit: <see cref="RunWatch"/>) ends a run cleanly.
    /// </summary>
    /// <exception cref="RunStoppedException">A stop was requested.</exception>
    public Machine Build()
    {
        RunWatch.Current?.ThrowIfStopRequested();
        _smmuServices?.Dispose();
        _smmuServices = null;
        if (_last is null) _last = _host.CreateMachine(_options, _costs);
        else
        {
            try
            {
                _last.Reset();
            }
            catch
            {
                _last = null;
                throw;
            }
        }
        var m = _last.Machine;
        Last = m;
        Built++;
        ThreadIds = _program.Load(m, _smmu is null ? null : () => (_smmuServices = _smmu.Host.Attach(m)).ServiceProvider.GetRequiredService<ISecondaryMmu>(), Outcomes);
        return m;
    }

    /// <summary>Disposes the last machine's services.</summary>
    public void Dispose()
    {
        _smmuServices?.Dispose();
        _smmuServices = null;
        _last?.Dispose();
        _last = null;
    }
}
