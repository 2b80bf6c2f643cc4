// ARM SMMUv3 shared virtual addressing (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c).
// Devices are bound to an mm by PASID; all devices of one mm share its context descriptor and the CPU's ASID
// (arm_smmu_alloc_shared_cd), and the driver subscribes one mmu notifier per mm. The hardware side: an SMMU
// TLB keyed by (ASID, page) and, for an ATS device, its ATC keyed by page. A translation is served from the
// ATC, then the TLB, else by walking the CPU page table; a missing or non-permitting entry faults and nothing
// is cached. A cached entry keeps its permission: a write that hits a read-only entry faults without a new
// walk (the architecture lets permission bits be cached), which is why a CPU upgrade must reach the SMMU.
// Invalidation (arm_smmu_mm_arch_invalidate_secondary_tlbs, or .invalidate_range before v6.6): without BTM
// one CMD_TLBI_NH_VA per page, or one CMD_TLBI_NH_ASID from CMDQ_MAX_TLBI_OPS pages on (without range
// invalidation), then CMD_SYNC; with BTM the SMMU snoops the CPUs' broadcast TLBIs (ITlbBroadcastObserver) and
// sends no explicit TLBI; ATC invalidation is always explicit for ATS devices (BTM never covers the ATC).
// release makes the CDs fault and invalidates the ASID and the ATCs.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Smmu;

/// <summary>The SMMUv3 and its SVA driver: an <see cref="ISecondaryMmu"/> kept coherent through mmu notifiers.</summary>
[PvArch("arm64")]
public sealed class ArmSmmuV3 : ISecondaryMmu, IMmuNotifier, ITlbBroadcastObserver
{
    /// <summary>CMDQ_MAX_TLBI_OPS at 4 KiB pages (1 &lt;&lt; (PAGE_SHIFT - 3)): from this many pages on, one ASID invalidation.</summary>
    public const int CmdqMaxTlbiOps = 1 << (PageGeometry.PageShift - 3);

    private readonly IPageTables _tables;
    private readonly IFrames _frames;
    private readonly IDeviceDmaPort _port;
    private readonly IMmuNotifierRegistry _notifiers;
    private readonly SmmuOptions _options;
    private readonly SmmuCommandQueue _cmdq;
    private readonly PvCounter _tlbHits, _atcHits, _walks, _faults;
    private readonly Dictionary<int, Master> _masters = [];
    private readonly Dictionary<MmId, SharedContext> _contexts = [];
    private readonly Dictionary<(int Asid, ulong Page), CachedTranslation> _tlb = [];

    /// <summary>Creates the SMMU for one machine.</summary>
    public ArmSmmuV3(IPageTables tables, IFrames frames, IDeviceDmaPort port, IMmuNotifierRegistry notifiers, IMetrics metrics, ICost cost, ICpus cpus, IOptions<SmmuOptions> options)
    {
        _tables = tables;
        _frames = frames;
        _port = port;
        _notifiers = notifiers;
        _options = options.Value;
        _cmdq = new SmmuCommandQueue(port, metrics, cost, cpus);
        _tlbHits = metrics.Counter("smmu.tlb_hit");
        _atcHits = metrics.Counter("smmu.atc_hit");
        _walks = metrics.Counter("smmu.walk");
        _faults = metrics.Counter("smmu.fault");
        // With BTM the SMMU is on the interconnect's DVM path: it sees every broadcast TLBI the CPUs issue.
        if (_options.Btm) cpus.AddBroadcastObserver(this);
    }

    /// <summary>BTM: a CPU broadcast TLBI for a shared ASID invalidates the SMMU TLB too (never the ATC).</summary>
    public void OnBroadcastInvalidate(in TlbInvalidation invalidation)
    {
        switch (invalidation.Kind)
        {
            case TlbInvalidationKind.Page:
            case TlbInvalidationKind.Range:
                if (_contexts.TryGetValue(invalidation.Mm, out var ctx)) DropRange(ctx.Asid, invalidation.Start, invalidation.End);
                break;
            case TlbInvalidationKind.Asid:
                if (_contexts.TryGetValue(invalidation.Mm, out var whole)) DropAsid(whole.Asid);
                break;
            default:
                _tlb.Clear();
                break;
        }
    }

    /// <summary>The options in force.</summary>
    public SmmuOptions Options => _options;

    /// <summary>Entries in the SMMU TLB.</summary>
    public int TlbEntries => _tlb.Count;

    /// <inheritdoc/>
    public void Bind(int device, MmId mm)
    {
        if (_masters.ContainsKey(device)) throw new InvalidOperationException($"device {device} is already bound");
        var info = _port.Devices.FirstOrDefault(d => d.Id == device);
        if (info.Name is null) throw new ArgumentException($"no device {device} on this machine", nameof(device));
        // arm_smmu_mmu_notifier_get: the first device bound to an mm shares the CPU's ASID and registers the notifier.
        if (!_contexts.TryGetValue(mm, out var ctx))
        {
            _contexts[mm] = ctx = new SharedContext(mm.Value);
            _notifiers.Register(mm, this);
        }
        var master = new Master(info, mm);
        ctx.Masters.Add(master);
        _masters[device] = master;
    }

    /// <inheritdoc/>
    public void Unbind(int device)
    {
        if (!_masters.Remove(device, out var master)) return;
        var ctx = _contexts[master.Mm];
        // arm_smmu_remove_pasid: the CD entry goes, and the device's ATC with it.
        master.CdValid = false;
        if (master.Atc is { } atc)
        {
            _cmdq.AtcInv();
            atc.Clear();
            _cmdq.Sync();
        }
        ctx.Masters.Remove(master);
        if (ctx.Masters.Count > 0) return;
        // The last bond: unregistering calls release while the mm lives, which invalidates the ASID.
        _notifiers.Unregister(master.Mm, this);
        _contexts.Remove(master.Mm);
    }

    /// <inheritdoc/>
    public SecondaryTranslation Translate(int device, MmId mm, ulong address, AccessKind access)
    {
        ulong page = address & ~(PageGeometry.PageSize - 1);
        // No bond for this PASID, or a CD made to fault by release: the transaction aborts.
        if (!_masters.TryGetValue(device, out var master) || master.Mm != mm || !master.CdValid) return Fault();
        if (master.Atc is { } atc && atc.TryGetValue(page, out var inAtc))
        {
            if (inAtc.Permits(access))
            {
                _atcHits.Increment();
                return new SecondaryTranslation(false, inAtc.Pfn, inAtc.Generation, true);
            }
            // The device asks again (a translation request with write), which the SMMU answers from its TLB or a walk.
            atc.Remove(page);
        }
        var key = (_contexts[mm].Asid, page);
        if (_tlb.TryGetValue(key, out var cached))
        {
            if (!cached.Permits(access)) return Fault();
            _tlbHits.Increment();
            master.Atc?.TryAdd(page, cached);
            return new SecondaryTranslation(false, cached.Pfn, cached.Generation, true);
        }
        _walks.Increment();
        if (!_tables.TryWalk(mm, address, out var slot, out var leaf) || !Permits(leaf, access)) return Fault();
        // A huge leaf maps many pages; the TLB caches the 4 KiB page reached.
        var pfn = new Pfn(leaf.Pfn.Value + ((address >> PageGeometry.PageShift) & ((1UL << (9 * (int)slot.Level)) - 1)));
        var fill = new CachedTranslation(pfn, _frames.Info(pfn).Generation, leaf.IsWritable, leaf.Has(PteFlags.Exec));
        _tlb[key] = fill;
        master.Atc?.TryAdd(page, fill);
        return new SecondaryTranslation(false, pfn, fill.Generation, false);
    }

    /// <summary><c>.invalidate_range</c> before v6.6: mm/mmu_notifier.c called it from every range end.</summary>
    public void InvalidateRangeEnd(in MmuNotifierRange range)
    {
        if (_options.Notifier == SvaNotifier.InvalidateRange) Invalidate(range.Mm, range.Start, range.End);
    }

    /// <summary><c>arm_smmu_mm_arch_invalidate_secondary_tlbs</c> (v6.6+), from the arch TLB flush.</summary>
    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end)
    {
        if (_options.Notifier == SvaNotifier.ArchInvalidateSecondaryTlbs) Invalidate(mm, start, end);
    }

    /// <summary>
    /// <c>arm_smmu_mm_release</c>: DMA may still run, so the CDs stay valid but fault everything; then the ASID and
    /// the ATCs are invalidated (explicitly, BTM or not: no CPU TLBI covers an mm going away).
    /// </summary>
    public void Release(MmId mm)
    {
        if (!_contexts.TryGetValue(mm, out var ctx) || ctx.Cleared) return;
        foreach (var master in ctx.Masters) master.CdValid = false;
        _cmdq.TlbiNhAsid();
        DropAsid(ctx.Asid);
        _cmdq.Sync();
        AtcInvDomain(ctx, 0, TlbFlushInfo.FullMm);
        ctx.Cleared = true;
    }

    private void Invalidate(MmId mm, ulong start, ulong end)
    {
        if (!_contexts.TryGetValue(mm, out var ctx)) return;
        // The arch passes (0, ULONG_MAX) for flush_tlb_mm; without range invalidation a range of CMDQ_MAX_TLBI_OPS
        // pages or more becomes one ASID invalidation, so the command queue never holds thousands of VA commands.
        bool wholeAsid = end == TlbFlushInfo.FullMm
            || (!_options.RangeInvalidation && end - start >= (ulong)CmdqMaxTlbiOps * PageGeometry.PageSize);
        if (wholeAsid) (start, end) = (0, TlbFlushInfo.FullMm);
        if (!_options.Btm)
        {
            // Without BTM the SMMU TLB is invalidated only by commands; with it, the CPU's TLBI already reached it.
            if (wholeAsid) _cmdq.TlbiNhAsid();
            else _cmdq.TlbiNhVa(_options.RangeInvalidation ? 1 : (long)((end - start + PageGeometry.PageSize - 1) >> PageGeometry.PageShift));
            DropRange(ctx.Asid, start, end);
            _cmdq.Sync();
        }
        AtcInvDomain(ctx, start, end);
    }

    /// <summary><c>arm_smmu_atc_inv_domain</c>: one CMD_ATC_INV per ATS device of the domain, then one CMD_SYNC.</summary>
    private void AtcInvDomain(SharedContext ctx, ulong start, ulong end)
    {
        bool any = false;
        foreach (var master in ctx.Masters)
        {
            if (master.Atc is not { } atc) continue;
            _cmdq.AtcInv();
            foreach (var page in atc.Keys.Where(p => p >= start && p < end).ToList()) atc.Remove(page);
            any = true;
        }
        if (any) _cmdq.Sync();
    }

    private void DropRange(int asid, ulong start, ulong end)
    {
        if (end == TlbFlushInfo.FullMm)
        {
            DropAsid(asid);
            return;
        }
        for (ulong page = start & ~(PageGeometry.PageSize - 1); page < end; page += PageGeometry.PageSize) _tlb.Remove((asid, page));
    }

    private void DropAsid(int asid)
    {
        foreach (var key in _tlb.Keys.Where(k => k.Asid == asid).ToList()) _tlb.Remove(key);
    }

    private SecondaryTranslation Fault()
    {
        _faults.Increment();
        return SecondaryTranslation.Fault;
    }

    private static bool Permits(PageTableEntry leaf, AccessKind access) =>
        leaf.IsPresent && leaf.Has(PteFlags.User) && access switch
        {
            AccessKind.Write => leaf.IsWritable,
            AccessKind.Exec => leaf.Has(PteFlags.Exec),
            _ => true,
        };

    /// <summary>One cached translation (SMMU TLB or ATC entry): the page reached and the permission the walk saw.</summary>
    private readonly record struct CachedTranslation(Pfn Pfn, uint Generation, bool Writable, bool Executable)
    {
        public bool Permits(AccessKind access) => access switch
        {
            AccessKind.Write => Writable,
            AccessKind.Exec => Executable,
            _ => true,
        };
    }

    /// <summary>struct arm_smmu_master with its bond: the device, its mm (PASID) and its ATC if it has ATS.</summary>
    private sealed class Master(DeviceInfo info, MmId mm)
    {
        public MmId Mm { get; } = mm;
        public bool CdValid { get; set; } = true;
        public Dictionary<ulong, CachedTranslation>? Atc { get; } = info.Ats ? [] : null;
    }

    /// <summary>struct arm_smmu_mmu_notifier with its shared CD: the mm's ASID and the devices bound to it.</summary>
    private sealed class SharedContext(int asid)
    {
        public int Asid { get; } = asid;
        public bool Cleared { get; set; }
        public List<Master> Masters { get; } = [];
    }
}
