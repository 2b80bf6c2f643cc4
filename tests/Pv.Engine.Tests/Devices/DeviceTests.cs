// Device DMA engines, the IOPF path and interval-notifier drivers on a small machine, with a test-double
// secondary MMU that walks the CPU page table and caches what it walked (permission included) until a
// notifier invalidates it. Each violation comes from the oracle seeing what the device reached.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Devices;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests.Devices;

public sealed class DeviceTests
{
    private const ulong X = 0x7f00_0000_0000;
    private const PteFlags UserRo = PteFlags.Present | PteFlags.User | PteFlags.Accessed;

    /// <summary>A machine with one mm, an anonymous read/write VMA of <paramref name="pages"/> pages at X, and the IOPF queue.</summary>
    private sealed class Rig
    {
        public Rig(bool upgradeNotifier = false, bool secondaryHearsNotifiers = true, int pages = 4)
        {
            M = new Machine(new MachineOptions { Cpus = 2, ProtectionUpgradeNotifier = upgradeNotifier });
            var backend = new TestBackend(M, FlushMode.WaitedIpi);
            M.AttachBackend(backend, backend);
            Mm = M.CreateMm();
            Mm.InsertVma(new Vma(Mm, X, X + (ulong)pages * PageGeometry.PageSize, VmaFlags.Read | VmaFlags.Write));
            for (int c = 0; c < 2; c++) M.Cpus[c].LoadMm(Mm.Id);
            Smmu = new CachingSecondaryMmu(M, secondaryHearsNotifiers);
            Iopf = new IopfQueue(M);
        }

        public Machine M { get; }
        public MmStruct Mm { get; }
        public CachingSecondaryMmu Smmu { get; }
        public IopfQueue Iopf { get; }

        public Pfn Map(ulong va, PteFlags flags)
        {
            var page = M.Memory.Alloc(FrameKind.DataPage);
            M.PageTables.Populate(Mm.Id, va, PageTableEntry.Make(page, flags));
            return page;
        }

        public SimThread Cpu(int cpu, params Func<SimThread, IEnumerable<Step>>[] ops)
        {
            var t = M.AddThread($"cpu{cpu}", ThreadKind.User, cpu, Mm);
            foreach (var op in ops) t.Enqueue(op(t));
            return t;
        }
    }

    [Fact]
    public void Dma_walks_then_hits_the_secondary_tlb()
    {
        var r = new Rig();
        var page = r.Map(X, TestMachine.UserRw);
        var dev = SvaDevice.Attach(r.M, r.Smmu, r.Iopf, r.Mm);
        DmaResult first = new(), second = new();
        dev.Enqueue(dev.Access(X, AccessKind.Read, first));
        dev.Enqueue(dev.Access(X + 8, AccessKind.Write, second));
        var run = r.M.Run(new SequentialPolicy());
        Assert.Equal(RunOutcome.Completed, run.Outcome);
        Assert.Equal((DmaStatus.Ok, false, page), (first.Status, first.FromCache, first.Pfn));
        Assert.Equal((DmaStatus.Ok, true, page), (second.Status, second.FromCache, second.Pfn));
        Assert.Equal(ThreadKind.Device, dev.Thread.Kind);
    }

    [Fact]
    public void A_fault_goes_through_iopf_and_the_device_retries()
    {
        var r = new Rig();
        var dev = SvaDevice.Attach(r.M, r.Smmu, r.Iopf, r.Mm);
        var result = new DmaResult();
        dev.Enqueue(dev.Access(X + PageGeometry.PageSize, AccessKind.Write, result));
        var run = r.M.Run(new SequentialPolicy());
        Assert.Equal(RunOutcome.Completed, run.Outcome);
        Assert.Equal(DmaStatus.Ok, result.Status);
        Assert.Equal(1, result.Faults);
        Assert.Equal(1, r.M.Metrics.Counter("iommu.iopf").Value);
        Assert.True(r.M.Oracle.PageTablePermits(r.Mm.Id, X + PageGeometry.PageSize, AccessKind.Write, out var target));
        Assert.Equal(target, result.Pfn);
    }

    [Fact]
    public void A_fault_outside_any_vma_gets_an_invalid_response()
    {
        var r = new Rig();
        var dev = SvaDevice.Attach(r.M, r.Smmu, r.Iopf, r.Mm);
        var result = new DmaResult();
        dev.Enqueue(dev.Access(0x1000, AccessKind.Read, result));
        var run = r.M.Run(new SequentialPolicy());
        Assert.Equal(RunOutcome.Completed, run.Outcome);
        Assert.Equal(DmaStatus.Failed, result.Status);
        Assert.Equal(1, r.M.Metrics.Counter("iommu.iopf_invalid").Value);
    }

    /// <summary>
    /// Z2's mechanism on the generic engine: the secondary TLB caches X read-only, the CPU's write fault upgrades the
    /// PTE (do_wp_page reuse, ptep_set_access_flags), the device writes. Without an upgrade notification nothing
    /// drops the read-only entry and the fault handler has nothing to change: O5. With the seed's PROTECTION_UPGRADE
    /// pair, the secondary MMU drops it at range end and the write goes through.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_permission_upgrade_must_reach_the_secondary_tlb(bool upgradeNotifier)
    {
        var r = new Rig(upgradeNotifier);
        r.Map(X, UserRo);
        var dev = SvaDevice.Attach(r.M, r.Smmu, r.Iopf, r.Mm);
        var write = new DmaResult();
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        var cpu = r.Cpu(0, t => Fault.UserAccess(r.M, t, X, AccessKind.Write));
        dev.Enqueue(WaitFor(cpu));
        dev.Enqueue(dev.Access(X, AccessKind.Write, write));
        var run = r.M.Run(new SequentialPolicy());
        if (upgradeNotifier)
        {
            Assert.Equal(RunOutcome.Completed, run.Outcome);
            Assert.Equal(DmaStatus.Ok, write.Status);
        }
        else
        {
            Assert.Equal(RunOutcome.Violation, run.Outcome);
            Assert.Equal(InvariantId.O5, run.Report!.Violation.Id);
            Assert.Equal("dev0", run.Report.Violation.Agent);
            Assert.Equal(r.M.Options.O5FaultLimit + 1, write.Faults);
        }
    }

    [Fact]
    public void A_secondary_tlb_that_misses_invalidations_reaches_a_freed_page()
    {
        var r = new Rig(secondaryHearsNotifiers: false);
        r.Map(X, TestMachine.UserRw);
        var dev = SvaDevice.Attach(r.M, r.Smmu, r.Iopf, r.Mm);
        var cpu = r.Cpu(0, t => Munmap.Run(r.M, t, r.Mm, X, PageGeometry.PageSize));
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        dev.Enqueue(WaitFor(cpu));
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        var run = r.M.Run(new SequentialPolicy());
        Assert.Equal(RunOutcome.Violation, run.Outcome);
        Assert.Equal(InvariantId.O1, run.Report!.Violation.Id);
    }

    [Fact]
    public void The_same_unmap_is_clean_when_the_secondary_tlb_is_invalidated()
    {
        var r = new Rig();
        r.Map(X, TestMachine.UserRw);
        var dev = SvaDevice.Attach(r.M, r.Smmu, r.Iopf, r.Mm);
        var cpu = r.Cpu(0, t => Munmap.Run(r.M, t, r.Mm, X, PageGeometry.PageSize));
        var after = new DmaResult();
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        dev.Enqueue(WaitFor(cpu));
        dev.Enqueue(dev.Access(X, AccessKind.Read, after));
        var run = r.M.Run(new SequentialPolicy());
        Assert.Equal(RunOutcome.Completed, run.Outcome);
        Assert.Equal(DmaStatus.Failed, after.Status); // the VMA is gone: the IOPF answers INVALID
    }

    /// <summary>
    /// The driver collects X, then madvise(DONTNEED) zaps and frees it before the driver takes its lock: read_retry
    /// fails, the driver goes back to read_begin and mirrors the new page.
    /// </summary>
    [Fact]
    public void An_invalidation_racing_collect_and_install_makes_the_driver_retry()
    {
        var r = new Rig();
        var old = r.Map(X, TestMachine.UserRw);
        var drv = new MirrorDriver(r.M, r.Mm, X, PageGeometry.PageSize);
        drv.Thread.Enqueue(drv.Populate(X, 1));
        var cpu = r.Cpu(0, t => Munmap.MadviseDontneed(r.M, t, r.Mm, X, PageGeometry.PageSize));
        var run = r.M.Run(new PhasePolicy((drv.Thread, () => drv.State == MirrorState.Collected), (cpu, () => cpu.IsDone)));
        Assert.Equal(RunOutcome.Completed, run.Outcome);
        Assert.Equal(1, drv.Retries);
        Assert.Equal(MirrorState.Installed, drv.State);
        Assert.True(r.M.Oracle.PageTablePermits(r.Mm.Id, X, AccessKind.Read, out var now));
        Assert.NotEqual(old, now);
        Assert.Equal(now, drv.Mappings[X].Pfn);
    }

    /// <summary>The broken driver installs what it collected while the madvise's invalidation is running: O7.</summary>
    [Fact]
    public void A_driver_that_ignores_read_retry_installs_inside_an_invalidation()
    {
        var r = new Rig();
        r.Map(X, TestMachine.UserRw);
        var drv = new MirrorDriver(r.M, r.Mm, X, PageGeometry.PageSize, honourReadRetry: false);
        drv.Thread.Enqueue(drv.Populate(X, 1));
        var cpu = r.Cpu(0, t => Munmap.MadviseDontneed(r.M, t, r.Mm, X, PageGeometry.PageSize));
        var run = r.M.Run(new PhasePolicy((drv.Thread, () => drv.State == MirrorState.Collected), (cpu, () => r.M.Notifiers.Active.Count > 0)));
        Assert.Equal(RunOutcome.Violation, run.Outcome);
        Assert.Equal(InvariantId.O7, run.Report!.Violation.Id);
        Assert.Equal("drv", run.Report.Violation.Agent);
    }

    /// <summary>The broken driver installing after the invalidation ended keeps a mapping to a freed page: O1 on use.</summary>
    [Fact]
    public void A_driver_that_ignores_read_retry_later_reaches_a_freed_page()
    {
        var r = new Rig();
        r.Map(X, TestMachine.UserRw);
        var drv = new MirrorDriver(r.M, r.Mm, X, PageGeometry.PageSize, honourReadRetry: false);
        drv.Thread.Enqueue(drv.Populate(X, 1));
        var cpu = r.Cpu(0, t => Munmap.MadviseDontneed(r.M, t, r.Mm, X, PageGeometry.PageSize));
        drv.Thread.Enqueue(WaitFor(cpu));
        drv.Thread.Enqueue(drv.DeviceAccess(X, AccessKind.Read));
        var run = r.M.Run(new PhasePolicy((drv.Thread, () => drv.State == MirrorState.Collected), (cpu, () => cpu.IsDone)));
        Assert.Equal(RunOutcome.Violation, run.Outcome);
        Assert.Equal(InvariantId.O1, run.Report!.Violation.Id);
    }

    private static IEnumerable<Step> WaitFor(SimThread other)
    {
        yield return Step.Wait(new Done(other));
    }

    private sealed class Done(SimThread t) : IWaitCondition
    {
        public bool IsSatisfied => t.IsDone;
        public string Describe() => $"{t.Name} to finish";
    }
}

/// <summary>Runs each phase's thread while it can and its condition is false, then the lowest runnable id.</summary>
internal sealed class PhasePolicy(params (SimThread Thread, Func<bool> Until)[] phases) : ISchedulePolicy
{
    private int _phase;

    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        while (_phase < phases.Length && phases[_phase].Until()) _phase++;
        if (_phase < phases.Length)
            for (int i = 0; i < runnable.Length; i++)
                if (runnable[i] == phases[_phase].Thread) return i;
        return 0;
    }
}

/// <summary>
/// A test-double secondary MMU over the CPU page table: a walk fills a per-device cache with the permission it saw; a
/// cached read-only entry makes a write fault without a new walk. It invalidates on every range end and on
/// arch_invalidate_secondary_tlbs, unless it is told not to hear notifiers at all.
/// </summary>
internal sealed class CachingSecondaryMmu : ISecondaryMmu, IMmuNotifier
{
    private readonly Machine _m;
    private readonly bool _hearsNotifiers;
    private readonly Dictionary<(int Device, ulong Page), (Pfn Pfn, uint Gen, bool Writable)> _cache = [];

    public CachingSecondaryMmu(Machine m, bool hearsNotifiers)
    {
        _m = m;
        _hearsNotifiers = hearsNotifiers;
    }

    public void Bind(int device, MmId mm) => _m.Notifiers.Register(mm, this);

    public void Unbind(int device) { }

    public SecondaryTranslation Translate(int device, MmId mm, ulong address, AccessKind access)
    {
        var key = (device, address & ~(PageGeometry.PageSize - 1));
        if (_cache.TryGetValue(key, out var e))
            return access == AccessKind.Write && !e.Writable ? SecondaryTranslation.Fault : new(false, e.Pfn, e.Gen, true);
        if (!_m.PageTables.TryWalk(mm, address, out var slot, out var leaf) || (access == AccessKind.Write && !leaf.IsWritable)) return SecondaryTranslation.Fault;
        var pfn = Memory.PageTables.TargetPfn(leaf, slot.Level, address);
        _cache[key] = (pfn, _m.Memory.GenerationOf(pfn), leaf.IsWritable);
        return new(false, pfn, _m.Memory.GenerationOf(pfn), false);
    }

    public void InvalidateRangeEnd(in MmuNotifierRange range) => Drop(range.Start, range.End);

    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) => Drop(start, end);

    private void Drop(ulong start, ulong end)
    {
        if (!_hearsNotifiers) return;
        foreach (var k in _cache.Keys.Where(k => k.Page >= start && k.Page < end).ToList()) _cache.Remove(k);
    }
}
