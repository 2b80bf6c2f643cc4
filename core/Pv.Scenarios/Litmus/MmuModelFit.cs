// What a scenario may contain depends on how its backend's CPUs translate (PvBackendInfo.Mmu). The backend
// declares that and a scenario need not (its `mmu` line is optional), so these checks run when the scenario is
// bound (BoundScenario.Bind), each at the line that does not fit. A hardware MMU has one mm loaded per CPU, and
// no host mappings to diverge from its page tables (O6).
// Host mappings are User-Mode Linux's, a uniprocessor kernel with no hardware page walker, no transparent huge
// pages and no IOMMU, whose setup cannot pre-populate pages (it writes PTEs, not host mappings). Each misfit,
// run anyway, ends in a verdict no kernel of that model reaches: O6 before the first operation (populate), O2
// (a speculative walker), O1 (threads on a second CPU), O5 (an SVA device); or, expecting O6 of a hardware
// MMU, in a search that cannot find what it expects.
using Pv.Engine.Programs;
using Pv.Engine.Sched;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Litmus;

/// <summary>The constructs of a scenario that an MMU model cannot run.</summary>
internal static class MmuModelFit
{
    /// <summary>Each construct of <paramref name="scenario"/> that <paramref name="model"/> cannot run: where it was written and why, in file order.</summary>
    public static IEnumerable<(SourceSpan At, string Why)> Misfits(Scenario scenario, MmuKind model) =>
        (model == MmuKind.Hardware ? HardwareMisfits(scenario) : HostMappingsMisfits(scenario))
            .OrderBy(m => m.At.Line).ThenBy(m => m.At.Column);

    private static IEnumerable<(SourceSpan At, string Why)> HardwareMisfits(Scenario s)
    {
        // A CPU's hardware translates through the one mm loaded on it: user threads sharing a CPU share its mm (a
        // context switch to another mm is a switch-mm operation). Under host mappings each process has its own.
        var first = new Dictionary<int, ThreadDecl>();
        foreach (var t in s.Threads)
        {
            if (t.Kind != ThreadKind.User || t.Mm is null) continue;
            if (!first.TryGetValue(t.Cpu, out var f)) first[t.Cpu] = t;
            else if (f.Mm != t.Mm)
                yield return (t.CpuAt, $"thread '{t.Name}' runs mm '{t.Mm}' on CPU {t.Cpu}, where '{f.Name}' runs mm '{f.Mm}': a CPU has one mm loaded (give it another CPU, or switch-mm)");
        }
        if (s.Expect.Verdict == Verdict.O6)
            yield return (s.Expect.At, "O6 (host mapping divergence) breaks only where CPUs translate through host mappings: expect another verdict, or bind a backend that declares them (User-Mode Linux)");
    }

    private static IEnumerable<(SourceSpan At, string Why)> HostMappingsMisfits(Scenario s)
    {
        if (s.Smmu is not null)
            yield return (s.SmmuAt, "'smmu' gives a device the CPU's page tables through an IOMMU (SVA), and User-Mode Linux has none");
        if (s.Workload is { } w)
            yield return (w.At, "the workload form generates programs for a hardware MMU (populated regions, threads on every CPU); write thread blocks (pv soak generates scenarios for host mappings)");
        foreach (var p in s.Mms.SelectMany(m => m.Populate))
            yield return (p.At, "'populate' writes PTEs at setup but no host mapping, so the process would resume diverged from its page table (O6) before anything ran; let an access fault the pages in");
        foreach (var t in s.Threads)
        {
            if (t.Kind == ThreadKind.Hardware)
                yield return (t.At, $"thread '{t.Name}' is a CPU's hardware page-table walker, and none walks User-Mode Linux's page tables (the host walks its own)");
            else if (t.Kind == ThreadKind.Host)
                yield return (t.At, $"thread '{t.Name}' preempts vCPUs, and User-Mode Linux is a host process, not a guest with vCPUs");
            else if (t.Kind != ThreadKind.Device && t.Cpu != 0)
                yield return (t.CpuAt, $"thread '{t.Name}' runs on CPU {t.Cpu}, and User-Mode Linux is uniprocessor: every thread runs on CPU 0");
            foreach (var op in t.Ops.Where(o => o.Kind == OpKind.Collapse))
                yield return (op.At, "'collapse' is khugepaged's, and User-Mode Linux has no transparent huge pages");
        }
    }
}
