// Hyper-V guest pv_mmu_ops (arch/x86/hyperv/mmu.c): hyperv_flush_tlb_multi and the tlb_remove_table pv op. The local
// primitives stay native (INVLPG, CR3 reload): the host's local-flush hint is not used by Linux.
//
// A remote flush is one hypercall the hypervisor completes on every listed vCPU before it returns, lazy ones
// included, without interrupting any of them: a vCPU with IRQs off inside GUP-fast is flushed like any other, so the
// flush does not hold table freeing off and page tables must leave through RCU (tlb_remove_table, the era's pv op).
// Which hypercall:
//  - the target set: all present vCPUs is the non-Ex call with HV_FLUSH_ALL_PROCESSORS whatever their number; else
//    a 64-bit processor mask while every VP number is below 64, the Ex call with a sparse VP set (banks of 64 VPs,
//    every bank up to the highest one carried) past that. Before 0e4c88f37693 a host recommending the Ex calls got
//    them for every flush. Without that hint a set past VP 63 falls back to native_flush_tlb_multi (waited IPIs).
//  - what is flushed: a full flush (TLB_FLUSH_ALL) is FlushVirtualAddressSpace on the mm's address space (its CR3,
//    non-global mappings only); a range is FlushVirtualAddressList with one GVA entry per HV_TLB_FLUSH_UNIT (4096
//    pages) as fill_gva_list builds them, unless it needs more entries than the input page holds (max_gvas), when it
//    becomes the Space call too. Each entry, like INVLPG, drops the paging-structure caches for its addresses.
// VP numbers are the CPU numbers (hv_vp_index matches Linux's CPU ids on Hyper-V); the hypercall page and the
// per-CPU input page always exist, so the hypercall never fails and the only fallback is the one the hints decide.
// Costs: the engine charges the hypercall; on top, each GVA entry and each bank of a sparse set (declared costs),
// since the hypervisor processes them one by one.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.HyperV;

/// <summary>Hyper-V guest pv_mmu_ops.</summary>
[PvArch(HyperVOptions.X86)]
internal sealed class HyperVPvMmuOps : X86PvMmuOps
{
    /// <summary>HV_TLB_FLUSH_UNIT: the pages one GVA list entry covers (its low 12 bits count the extra pages).</summary>
    internal const ulong FlushUnit = 4096 * PageGeometry.PageSize;

    /// <summary>VPs per bank of a sparse VP set, and the VPs a non-Ex processor mask can name.</summary>
    internal const int VpsPerBank = 64;

    // The hypercall input is one page: address space, flags and processor mask (non-Ex) or the VP set's format and
    // valid bank mask (Ex), each 8 bytes, then the banks (Ex) and the GVA list.
    private const int InputPage = 4096, EntrySize = 8, Header = 3 * EntrySize, HeaderEx = 4 * EntrySize;

    private readonly IHypervisor _hypervisor;
    private readonly IIpi _ipi;
    private readonly ICost _cost;
    private readonly HyperVOptions _options;
    private readonly long _gvaEntryCost, _bankCost;
    private readonly PvCounter _space, _list, _spaceEx, _listEx, _gvaEntries, _banks, _nativeFallback;

    public HyperVPvMmuOps(ICpus cpus, IHypervisor hypervisor, IIpi ipi, ICost cost, IMetrics metrics, IOptions<HyperVOptions> options) : base(cpus)
    {
        _hypervisor = hypervisor;
        _ipi = ipi;
        _cost = cost;
        _options = options.Value;
        _gvaEntryCost = cost.Value(HyperVOptions.GvaRangeEntry);
        _bankCost = cost.Value(HyperVOptions.VpSetBank);
        _space = metrics.Counter("hv.flush_virtual_address_space");
        _list = metrics.Counter("hv.flush_virtual_address_list");
        _spaceEx = metrics.Counter("hv.flush_virtual_address_space_ex");
        _listEx = metrics.Counter("hv.flush_virtual_address_list_ex");
        _gvaEntries = metrics.Counter("hv.gva_range_entries");
        _banks = metrics.Counter("hv.vp_set_banks");
        _nativeFallback = metrics.Counter("hv.native_flush_fallback");
    }

    /// <summary><c>hyperv_flush_tlb_multi</c> (or, without the host's hint, the native one it would have replaced).</summary>
    public override void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        if (!_options.RemoteTlbFlush)
        {
            NativeFlushTlbMulti(cpus, info);
            return;
        }
        if (cpus.IsEmpty) return;
        // HV_FLUSH_ALL_PROCESSORS: no mask to build, so no VP number to check.
        bool allPresent = cpus.Equals(Cpus.Online);
        int lastVp = Last(cpus);
        bool ex = _options.AlwaysEx || (!allPresent && lastVp >= VpsPerBank);
        if (ex && !_options.ExProcessorMasks)
        {
            // hyperv_flush_tlb_others_ex refuses (HV_STATUS_INVALID_PARAMETER), and the status check goes native.
            _nativeFallback.Increment();
            NativeFlushTlbMulti(cpus, info);
            return;
        }
        // The Ex set carries every bank up to the highest VP's (some may be empty); HV_GENERIC_SET_ALL carries none.
        int banks = ex && !allPresent ? lastVp / VpsPerBank + 1 : 0;
        int maxGvas = (InputPage - (ex ? HeaderEx : Header) - banks * EntrySize) / EntrySize;

        HypercallCommand command;
        TlbInvalidation invalidation;
        int gvas = 0;
        if (info.IsFullFlush || (info.End - info.Start) / FlushUnit > (ulong)maxGvas)
        {
            command = ex ? HypercallCommand.HvFlushVirtualAddressSpaceEx : HypercallCommand.HvFlushVirtualAddressSpace;
            invalidation = TlbInvalidation.Asid(info.Mm);
            (ex ? _spaceEx : _space).Increment();
        }
        else
        {
            command = ex ? HypercallCommand.HvFlushVirtualAddressListEx : HypercallCommand.HvFlushVirtualAddressList;
            invalidation = TlbInvalidation.Range(info.Mm, info.Start, info.End, info.StrideShift, walkCaches: true);
            gvas = GvaEntries(info.Start, info.End);
            (ex ? _listEx : _list).Increment();
        }
        _gvaEntries.Add(gvas);
        _banks.Add(banks);
        _cost.Charge(Cpus.Current.Id, gvas * _gvaEntryCost + banks * _bankCost);
        _hypervisor.Issue(new Hypercall(command, cpus, invalidation));
    }

    /// <summary>
    /// The number of entries <c>fill_gva_list</c> writes for [<paramref name="start"/>, <paramref name="end"/>): one per
    /// HV_TLB_FLUSH_UNIT, the last one partial, and one even for an empty range.
    /// </summary>
    internal static int GvaEntries(ulong start, ulong end) => end <= start ? 1 : (int)((end - start + FlushUnit - 1) / FlushUnit);

    /// <summary>
    /// <c>native_flush_tlb_multi</c> as of 4.19–6.11: waited IPIs to the CPUs of the mask, lazy ones left out unless
    /// page tables were freed (they catch up through tlb_gen when they switch back).
    /// </summary>
    private void NativeFlushTlbMulti(CpuMask cpus, TlbFlushInfo info)
    {
        var targets = cpus;
        if (!info.FreedTables)
            foreach (int cpu in cpus)
                if (Cpus[cpu].IsLazy) targets.Clear(cpu);
        _ipi.SendIpi(targets, cpu => X86Tlb.FlushTlbFunc(Cpus, this, cpu, info), wait: true);
    }

    /// <summary>The tlb_remove_table pv op of the era: <c>tlb_remove_table</c> (RCU), or <c>tlb_remove_page</c>.</summary>
    public override void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        if (_options.RcuTableFree) tlb.RemoveTable(table);
        else tlb.RemovePage(table);
    }

    /// <summary><c>cpumask_last</c>: the highest CPU (VP) number of a non-empty mask.</summary>
    private static int Last(CpuMask cpus)
    {
        int last = -1;
        foreach (int cpu in cpus) last = cpu;
        return last;
    }
}
