// One machine for the SMMU tests: the CPU side is the arm64 test double attached to an engine Machine; the
// SMMU is the real plugin, loaded through the repo's plugins.json by the real loader, and its ISecondaryMmu
// is resolved from the SMMU backend's scope on that same Machine (BackendHost.Attach, as a scenario's
// devices get it). The CPU era follows the SMMU backend's: pre-6.6 flushes notify nothing.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Devices;
using Pv.Engine.Host;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Plugins.Smmu.Tests;

internal sealed class SmmuRig : IDisposable
{
    public const ulong X = 0x7f00_0000_0000;
    public const PteFlags UserRw = PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed | PteFlags.Dirty;
    public const PteFlags UserRo = PteFlags.Present | PteFlags.User | PteFlags.Accessed;

    private static readonly Lazy<PluginCatalog> s_catalog = new(() => PluginCatalog.Load(Path.Combine(RepoRoot(), "plugins.json")));
    private readonly IServiceScope _smmuServices;

    /// <param name="backend">An arm64-smmu-* backend of plugins.json.</param>
    /// <param name="vmaPages">Pages of the anonymous read/write VMA at <see cref="X"/>.</param>
    /// <param name="cpuV66">The CPU's era when it should differ from the SMMU backend's.</param>
    /// <param name="maxGatherBatch">Pages the mmu_gather holds before a forced flush (the kernel chains batches up to MAX_GATHER_BATCH_COUNT).</param>
    public SmmuRig(string backend, ulong vmaPages = 16, bool? cpuV66 = null, int maxGatherBatch = 510)
    {
        var b = s_catalog.Value.Backend(backend);
        M = new Machine(new MachineOptions { Cpus = 2, MaxGatherBatch = maxGatherBatch, Cost = b.Costs.Engine, BackendCosts = b.Costs.Declared });
        bool v66 = cpuV66 ?? Version.Parse(b.Options.GetValueOrDefault(SmmuEraKey) ?? "6.6") >= new Version(6, 6);
        Arch = new Arm64TestArch(M.Cpus, M.Notifiers, v66);
        M.AttachBackend(Arch, Arch);
        _smmuServices = b.Host.Attach(M);
        Smmu = _smmuServices.ServiceProvider.GetRequiredService<ISecondaryMmu>();
        Mm = M.CreateMm();
        Mm.InsertVma(new Vma(Mm, X, X + vmaPages * PageGeometry.PageSize, VmaFlags.Read | VmaFlags.Write));
        for (int c = 0; c < M.Cpus.Count; c++) M.Cpus[c].LoadMm(Mm.Id);
        Iopf = new IopfQueue(M);
    }

    private const string SmmuEraKey = "era";

    public Machine M { get; }
    public Arm64TestArch Arch { get; }
    public ISecondaryMmu Smmu { get; }
    public MmStruct Mm { get; }
    public IopfQueue Iopf { get; }

    public long Counter(string name) => M.Metrics.Counter(name).Value;

    public Pfn Map(ulong va, PteFlags flags)
    {
        var page = M.Memory.Alloc(FrameKind.DataPage);
        M.PageTables.Populate(Mm.Id, va, PageTableEntry.Make(page, flags));
        return page;
    }

    public SvaDevice Device(bool ats = false) => SvaDevice.Attach(M, Smmu, Iopf, Mm, ats);

    public SimThread Cpu(int cpu, Func<SimThread, IEnumerable<Step>> op)
    {
        var t = M.AddThread($"cpu{cpu}", ThreadKind.User, cpu, Mm);
        t.Enqueue(op(t));
        return t;
    }

    /// <summary>An operation that waits until <paramref name="other"/> has finished.</summary>
    public static IEnumerable<Step> After(SimThread other)
    {
        yield return Step.Wait(new Finished(other));
    }

    public RunResult Run() => M.Run(new SequentialPolicy());

    public void Dispose() => _smmuServices.Dispose();

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Pv.sln above {AppContext.BaseDirectory}");
    }

    private sealed class Finished(SimThread t) : IWaitCondition
    {
        public bool IsSatisfied => t.IsDone;
        public string Describe() => $"{t.Name} to finish";
    }
}
