// Machines on the real plugins: plugins.json of the repository (or a temporary copy with one extra backend)
// loaded once by the real loader, then one PvMachine per schedule with an anonymous mapping set up through the
// engine's API. Shared by the native and Xen plugin tests.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Plugins.Tests;

/// <summary>Machines built from plugins.json backends.</summary>
internal static class PluginMachines
{
    /// <summary>Start of the test mapping (1 GiB aligned, so its tables cover nothing else).</summary>
    public const ulong A = 0x4000_0000;

    /// <summary>The base page size.</summary>
    public const ulong Page = PageGeometry.PageSize;

    /// <summary>A present, writable, young and dirty user PTE.</summary>
    public const PteFlags UserRw = PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed | PteFlags.Dirty;

    private static readonly Lazy<PluginCatalog> Repo = new(() => PluginCatalog.Load(Path.Combine(Pv.Testing.Fixtures.RepoRoot, "plugins.json")));

    /// <summary>The repository's backend <paramref name="name"/>.</summary>
    public static ResolvedBackend Backend(string name) => Repo.Value.Backend(name);

    /// <summary>
    /// A backend of plugin <paramref name="plugin"/> that plugins.json does not list: a temporary plugins.json with the
    /// repository's plugin entry and one backend with <paramref name="optionsJson"/>.
    /// </summary>
    public static ResolvedBackend Variant(string plugin, string archProfile, string optionsJson)
    {
        string dll = Repo.Value.Plugins.Single(p => p.Name == plugin).Entry.FullPath;
        string config = Pv.Testing.Fixtures.WriteConfig(
            $$"""{ "name": "{{plugin}}", "path": {{Pv.Testing.Fixtures.Json(dll)}} }""",
            $$"""{ "name": "variant", "plugin": "{{plugin}}", "archProfile": "{{archProfile}}", "options": {{optionsJson}} }""");
        var catalog = PluginCatalog.Load(config);
        Assert.Empty(catalog.Diagnostics);
        return catalog.Backend("variant");
    }

    /// <summary>A machine running <paramref name="backend"/>.</summary>
    public static Machine Create(ResolvedBackend backend, int cpus = 2, MachineOptions? options = null) =>
        backend.Host.CreateMachine((options ?? new MachineOptions()) with { Cpus = cpus }).Machine;

    /// <summary>
    /// One user mm with an anonymous read-write VMA of <paramref name="pages"/> pages at <see cref="A"/>, every page
    /// mapped, loaded on every CPU.
    /// </summary>
    public static MmStruct AnonMm(Machine m, int pages, PteFlags flags = UserRw)
    {
        var mm = m.CreateMm();
        mm.InsertVma(new Vma(mm, A, A + (ulong)pages * Page, VmaFlags.Read | VmaFlags.Write));
        for (int p = 0; p < pages; p++)
        {
            var page = m.Memory.Alloc(FrameKind.DataPage);
            m.PageTables.Populate(mm.Id, A + (ulong)p * Page, PageTableEntry.Make(page, flags));
        }
        foreach (var cpu in m.Cpus.All) cpu.LoadMm(mm.Id);
        return mm;
    }

    /// <summary>Setup, outside any schedule: <paramref name="cpu"/>'s TLB holds the translation of <paramref name="address"/>, as after a read.</summary>
    public static void Touch(Machine m, int cpu, ulong address)
    {
        var c = m.Cpus[cpu];
        Assert.True(m.PageTables.TryWalk(c.LoadedMm, address, out _, out var leaf));
        c.Tlb.Fill(c.LoadedMm.Value, address, PageTableLevel.Pte, leaf.Pfn, m.Memory.GenerationOf(leaf.Pfn), leaf.Flags);
    }

    /// <summary>A user thread on <paramref name="cpu"/> running <paramref name="ops"/> in order.</summary>
    public static SimThread Thread(Machine m, MmStruct mm, string name, int cpu, params Func<SimThread, IEnumerable<Step>>[] ops)
    {
        var t = m.AddThread(name, ThreadKind.User, cpu, mm);
        foreach (var op in ops) t.Enqueue(op(t));
        return t;
    }

    /// <summary>Run to completion under the sequential policy and require a clean end.</summary>
    public static RunResult RunClean(Machine m)
    {
        var r = m.Run(new SequentialPolicy());
        Assert.True(r.Outcome == RunOutcome.Completed, r.Report?.Format() ?? r.Deadlock ?? r.Outcome.ToString());
        return r;
    }

    /// <summary>An operation that waits until <paramref name="condition"/> holds.</summary>
    public static IEnumerable<Step> WaitUntil(Func<bool> condition, string what)
    {
        yield return Step.Wait(new Until(condition, what));
    }

    /// <summary>An operation of one step that runs <paramref name="action"/>.</summary>
    public static IEnumerable<Step> Mark(Action action)
    {
        action();
        yield return Step.Yield;
    }

    /// <summary>The value of counter <paramref name="name"/>.</summary>
    public static long Count(Machine m, string name) => m.Metrics.Counter(name).Value;

    private sealed class Until(Func<bool> condition, string what) : IWaitCondition
    {
        public bool IsSatisfied => condition();
        public string Describe() => what;
    }
}

/// <summary>A secondary TLB that records every arch_invalidate_secondary_tlbs it hears.</summary>
internal sealed class RecordingSecondaryTlb : IMmuNotifier
{
    /// <summary>The ranges, in order.</summary>
    public List<(ulong Start, ulong End)> Invalidations { get; } = [];

    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) => Invalidations.Add((start, end));
}
