// What `pv conform` checks of a CPU backend, by running it, never by reading its name or code:
//   composes        - the backend builds into a machine (its plugin's services resolve, its options validate);
//   litmus entries  - the zoo's fixed entries a correct kernel of the backend's MMU model runs cleanly (a
//                     hardware MMU: GUP-fast against munmap, a PFN map against unmap_mapping_range, nested
//                     flushes, mremap against truncate, a THP collapse against GUP-fast, a munmap and a GUP-fast
//                     walk against a hypervisor preempting the vCPU; host mappings: UML's
//                     sync), searched on the backend with each file's own budget: clean passes; an invariant
//                     fails, with what broke and what a backend usually does wrong to break it (docs/model.md);
//   deterministic   - the same schedules run twice give the same runs, trace hash included;
//   flushes counted - the first litmus entry's sequential run (a munmap of a range mapped on two CPUs; under host
//                     mappings, UML's faults and sync) counts TLB flushes (host syscalls under host mappings) and
//                     charges simulated time, which it does only if the backend flushes through the host's services
//                     and the pv_mmu_ops it was given.
// The same checks serve the CLI and a plugin's own tests.
using Pv.Abstractions.Plugins;
using Pv.Engine;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Conformance;

/// <summary>What a check is about.</summary>
public enum ConformKind
{
    /// <summary>The backend builds into a machine.</summary>
    Composes,
    /// <summary>A litmus entry of the zoo is clean on the backend.</summary>
    Litmus,
    /// <summary>The same schedules give the same runs.</summary>
    Deterministic,
    /// <summary>Flushes are counted and charged.</summary>
    FlushesCounted,
}

/// <summary>One check of a backend.</summary>
/// <param name="Kind">What the check is about.</param>
/// <param name="Name">What was checked, for the table: the kind, or the litmus entry.</param>
/// <param name="Passed">It held.</param>
/// <param name="Detail">What was run and found; for a failure, why the backend fails it.</param>
public sealed record ConformCheck(ConformKind Kind, string Name, bool Passed, string Detail);

/// <summary>Every check of one backend.</summary>
/// <param name="Backend">The backend's name in plugins.json.</param>
/// <param name="Checks">The checks, in the order they ran.</param>
public sealed record ConformReport(string Backend, IReadOnlyList<ConformCheck> Checks)
{
    /// <summary>Every check held.</summary>
    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>Runs the conformance checks on a backend.</summary>
public static class Conformance
{
    /// <summary>The zoo entries a correct backend of each MMU model runs cleanly (the fix on).</summary>
    public static IReadOnlyList<string> LitmusEntries(PvMmuModel model) => model == PvMmuModel.HostMappings
        ? ["z4-uml-missing-sync-mark-fixed.pvl"]
        :
        [
            "z1-gup-fast-vs-munmap-fixed.pvl", "z3-pfnmap-unmap-mapping-range-fixed.pvl", "z9-nested-flush-dontneed-race-fixed.pvl",
            "z10-mremap-truncate-stale-tlb-fixed.pvl", "z11-collapse-gup-fast-sync-fixed.pvl",
            "z13-kvm-steal-time-lost-flush-fixed.pvl", "z14-kvm-pv-flush-immediate-free-fixed.pvl",
        ];

    /// <summary>
    /// Checks <paramref name="backend"/> (a CPU backend of <paramref name="catalog"/>) with the litmus entries of
    /// <paramref name="zooFolder"/>, each searched over its own budget or <paramref name="schedules"/>.
    /// </summary>
    /// <exception cref="PvInputException">The backend is a secondary MMU, or the zoo folder lacks a litmus entry.</exception>
    public static ConformReport Run(ResolvedBackend backend, PluginCatalog catalog, string zooFolder, long? schedules = null)
    {
        var checks = new List<ConformCheck>();
        try
        {
            using var machine = backend.Host.CreateMachine(new MachineOptions());
            checks.Add(new ConformCheck(ConformKind.Composes, "composes", true, $"{backend.Plugin.Name} {backend.Plugin.Version}, arch profile {backend.ArchProfile}, {backend.Info.Mmu} MMU"));
        }
        catch (Exception e) when (e is PluginCompositionException or PluginOptionsException)
        {
            checks.Add(new ConformCheck(ConformKind.Composes, "composes", false, e.Message));
            return new ConformReport(backend.Name, checks);
        }
        if (!backend.Host.ProvidesCpuMmu)
            throw new PvInputException($"backend '{backend.Name}' is a secondary MMU (no pv_mmu_ops): pv conform checks CPU backends");

        var files = LitmusEntries(backend.Info.Mmu).Select(f => Path.Combine(zooFolder, f)).ToList();
        if (files.FirstOrDefault(f => !File.Exists(f)) is { } missing)
            throw new PvInputException($"no litmus entry {missing}: pass the folder of the zoo shipped with pv");
        var bound = files.Select(f => BoundScenario.Load(f, catalog, backend.Name)).ToList();
        foreach (var b in bound) checks.Add(Litmus(b, schedules));
        checks.Add(Deterministic(bound[0]));
        checks.Add(FlushesCounted(bound[0], backend.Info.Mmu));
        return new ConformReport(backend.Name, checks);
    }

    private static ConformCheck Litmus(BoundScenario bound, long? schedules)
    {
        string name = Path.GetFileNameWithoutExtension(bound.Scenario.Path);
        var options = SearchOptions.For(bound.Scenario, schedules: schedules);
        try
        {
            using var compiled = bound.Compile(0);
            var r = ScenarioRunner.Search(compiled, options);
            if (r.Violation?.Report?.Violation is not { } v)
                return new ConformCheck(ConformKind.Litmus, name, true, $"clean over {r.SchedulesRun:N0} {options.Strategy} schedules");
            return new ConformCheck(ConformKind.Litmus, name, false, $"{v.Id} after {r.SchedulesRun:N0} schedules: {v.Message}. {Why(v.Id)}");
        }
        catch (Exception e) when (e is PluginFaultException or ProgramException or SimulationInternalError)
        {
            return new ConformCheck(ConformKind.Litmus, name, false, e.Message);
        }
    }

    /// <summary>What a backend usually does wrong when a litmus entry breaks <paramref name="id"/> (docs/model.md defines each).</summary>
    public static string Why(InvariantId id) => id switch
    {
        InvariantId.O1 => "A CPU used a translation to a frame already freed: a flush missed a CPU of mm_cpumask (a lazy one too) or a page of the range.",
        InvariantId.O2 => "A page-table page was read after it was freed: a walker with IRQs off (GUP-fast) or a cached walk can still be on it. " +
            "Free page tables through RCU (tlb_remove_table) unless the remote flush is an IPI that waits for CPUs with IRQs off, and invalidate walk caches before freeing.",
        InvariantId.O3 => "A stale translation survived the operation that took it away: its flush came after the operation returned, or never.",
        InvariantId.O4 => "An access reached a device PFN after its driver revoked it: the zap of unmap_mapping_range must be flushed before it returns.",
        InvariantId.O5 => "A device keeps faulting on a page the CPU page table permits: nothing invalidated its stale entry.",
        InvariantId.O6 => "The host mappings differ from what the page tables allow when the process resumes: a sync was skipped.",
        InvariantId.O7 => "The mmu notifier protocol broke: an invalidate_range_end without its start, or a mapping made inside an invalidation.",
        _ => "",
    };

    private static ConformCheck Deterministic(BoundScenario bound)
    {
        const int Schedules = 200;
        var first = Runs(bound, Schedules);
        var second = Runs(bound, Schedules);
        int differ = Enumerable.Range(0, Schedules).FirstOrDefault(i => first[i] != second[i], -1);
        return differ < 0
            ? new ConformCheck(ConformKind.Deterministic, "deterministic", true, $"{Schedules} PCT schedules run twice: the same runs, trace hashes equal")
            : new ConformCheck(ConformKind.Deterministic, "deterministic", false, $"PCT schedule {differ} ran differently the second time ({first[differ]} then {second[differ]}): " +
                "the backend's behaviour depends on something other than the machine (a static, the clock, hashing of objects, a shared random source)");
    }

    private static List<(RunOutcome Outcome, long Steps, ulong Hash)> Runs(BoundScenario bound, int schedules)
    {
        using var compiled = bound.Compile(0);
        var runs = new List<(RunOutcome, long, ulong)>();
        for (int i = 0; i < schedules; i++)
        {
            var r = compiled.Build().Run(new PctPolicy((ulong)i, 3, 64));
            runs.Add((r.Outcome, r.Steps, r.TraceHash));
        }
        return runs;
    }

    private static ConformCheck FlushesCounted(BoundScenario bound, PvMmuModel model)
    {
        using var compiled = bound.Compile(0);
        var run = ScenarioRunner.RunOnce(compiled, scheduleSeed: null);
        // A hardware TLB is flushed by IPIs, broadcast invalidations, hypercalls or firmware calls; host mappings by host syscalls.
        bool Flush(string key) => model == PvMmuModel.HostMappings
            ? key == "host.syscall"
            : key.StartsWith("tlb.flush.", StringComparison.Ordinal) || key.StartsWith("pvops.flush_tlb", StringComparison.Ordinal) || key is "ipi.sent" or "hypercall" or "firmware.call";
        long flushes = run.Metrics.Where(m => Flush(m.Key)).Sum(m => m.Value);
        long ns = run.Metrics[RunSummary.SimulatedTime];
        string what = $"{Path.GetFileNameWithoutExtension(bound.Scenario.Path)}, sequential schedule";
        return flushes > 0 && ns > 0
            ? new ConformCheck(ConformKind.FlushesCounted, "flushes counted", true, $"{what}: {flushes} flush events counted, {ns:N0} ns simulated")
            : new ConformCheck(ConformKind.FlushesCounted, "flushes counted", false, $"{what}: {flushes} flush events counted and {ns:N0} ns: flush through the pv_mmu_ops and " +
                "host services the backend was given (IIpi, ICpus, IHypervisor, IFirmware, IHostMappings), or the engine neither sees nor charges the flush");
    }
}
