// UML's TLB (arch/um/kernel/tlb.c, asm/tlbflush.h, asm/pgtable.h): each mm is a host process, and what that
// process has mapped from UML's physical-memory file is the only translation its accesses use. Keeping it
// coherent means host mmap/munmap calls, sent through the mm's stub (init_mm's go straight to the host).
//
// 6.11 scheme (bcf3d957c63d, 2024): set_pte marks the entry NEEDSYNC (a cleared PTE or upper entry keeps the mark, so the sync
// knows to unmap it); set_ptes and flush_tlb_page/range/mm only widen the mm's sync range; um_tlb_sync walks
// that range, host-maps every marked present PTE with the young/dirty prot rule, host-unmaps every marked
// empty PTE and the whole span of every marked empty upper entry, clears the marks and resets the range. It
// runs right before a process resumes in user mode and, for init_mm, in flush_tlb_kernel_range and in the
// kernel SEGV handler. Before 6.11 every flush_tlb_* and the fault path ran that walk at once (fix_range),
// and the kernel's own flushes used flush_tlb_kernel_range_common, which also unmaps every empty PTE it meets
// and clears no mark. Contiguous host calls of one walk are merged, as the stub's syscall buffer does.
// UML has no huge pages, so a present upper entry always points to a table.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Plugins.Uml;

/// <summary>The per-mm sync ranges and the walks that bring host mappings in line with the page tables.</summary>
public sealed class UmlTlb
{
    /// <summary>Top of the user half: flush_tlb_mm marks every VMA, which all lie below it.</summary>
    public const ulong TaskSize = 0x0000_8000_0000_0000;

    /// <summary>start_vm/end_vm: the kernel's virtual-memory area (where vmalloc maps), synced whole by flush_tlb_kernel_vm.</summary>
    public const ulong StartVm = 0xffff_c900_0000_0000, EndVm = 0xffff_e900_0000_0000;

    private const int ENOMEM = -12;
    private readonly IPageTables _tables;
    private readonly IHostMappings _host;
    private readonly PvCounter _syncs, _enomem;
    private readonly Dictionary<int, (ulong From, ulong To)> _syncRange = [];

    /// <summary>Built by the container with the machine's host services.</summary>
    public UmlTlb(IOptions<UmlOptions> options, IPageTables tables, IHostMappings host, IMetrics metrics)
    {
        Options = options.Value;
        _tables = tables;
        _host = host;
        _syncs = metrics.Counter("uml.tlb_sync");
        _enomem = metrics.Counter("uml.enomem");
        // _PAGE_NEEDSYNC since 6.11; _PAGE_NEWPAGE before (the only mark a set_pte leaves that matters here).
        Mark = Options.Sync == UmlSync.Deferred ? PteFlags.Software0 : PteFlags.Software1;
    }

    /// <summary>The backend's options.</summary>
    public UmlOptions Options { get; }

    /// <summary>The software bit that says "host mapping out of date".</summary>
    public PteFlags Mark { get; }

    private bool Deferred => Options.Sync == UmlSync.Deferred;

    /// <summary>
    /// set_pte / pte_clear / pmd_clear: the value to store. Every PTE written is marked; an upper entry is marked
    /// only when cleared (populating one installs a fresh, unmarked table).
    /// </summary>
    public PageTableEntry SetPteValue(PteSlot slot, PageTableEntry entry) =>
        slot.Level == PageTableLevel.Pte || entry.IsNone ? entry.With(Mark) : entry;

    /// <summary><c>um_tlb_mark_sync</c>: set the range if empty, else widen it.</summary>
    public void MarkSync(MmId mm, ulong start, ulong end)
    {
        _syncRange[mm.Value] = _syncRange.TryGetValue(mm.Value, out var r) && r.To != 0
            ? (Math.Min(r.From, start), Math.Max(r.To, end))
            : (start, end);
    }

    /// <summary>The set_ptes hook: <paramref name="count"/> PTEs from <paramref name="address"/> were written.</summary>
    public void SetPtes(MmId mm, ulong address, int count)
    {
        if (Deferred && Options.SetPtesMark) MarkSync(mm, address, address + (ulong)count * PageGeometry.PageSize);
    }

    /// <summary>
    /// flush_tlb_page/range/mm of a user mm (<paramref name="end"/> = <see cref="TlbFlushInfo.FullMm"/> is flush_tlb_mm):
    /// only a mark since 6.11; before, fix_range at once.
    /// </summary>
    public void FlushRange(MmId mm, ulong start, ulong end)
    {
        if (end == TlbFlushInfo.FullMm) (start, end) = (0, TaskSize);
        if (Deferred) MarkSync(mm, start, end);
        else UpdateRange(mm, start, end, kernelCommon: false);
    }

    /// <summary>flush_tlb_kernel_range: init_mm must be in line before it returns, as no later sync point is sure to come.</summary>
    public void FlushKernelRange(ulong start, ulong end)
    {
        if (!Deferred)
        {
            UpdateRange(MmId.InitMm, start, end, kernelCommon: true);
            return;
        }
        MarkSync(MmId.InitMm, start, end);
        if (Options.KernelRangeSync) Sync(MmId.InitMm);
    }

    /// <summary>update_mmu_cache after a fault installed a PTE: before 6.11 the fault handler ended with flush_tlb_page.</summary>
    public void FaultInstalled(MmId mm, ulong address)
    {
        if (!Deferred) FlushRange(mm, address & ~(PageGeometry.PageSize - 1), (address & ~(PageGeometry.PageSize - 1)) + PageGeometry.PageSize);
    }

    /// <summary>The userspace loop right before the process resumes: <c>um_tlb_sync(current->mm)</c> since 6.11.</summary>
    public void ReturnToUser(MmId mm)
    {
        if (Deferred) Sync(mm);
    }

    /// <summary>
    /// The kernel SEGV handler. Since 6.11: if init_mm has pending updates from set_ptes, sync them and retry. Before:
    /// a fault inside the kernel VM area ran flush_tlb_kernel_vm and retried.
    /// </summary>
    public bool KernelFault(ulong address)
    {
        if (!Deferred)
        {
            if (address < StartVm || address >= EndVm) return false;
            UpdateRange(MmId.InitMm, StartVm, EndVm, kernelCommon: true);
            return true;
        }
        if (!_syncRange.TryGetValue(MmId.InitMm.Value, out var r) || r.To == 0) return false;
        Sync(MmId.InitMm);
        return true;
    }

    /// <summary><c>um_tlb_sync</c>: walk the pending range, then reset it. Returns 0 or a negative errno.</summary>
    public int Sync(MmId mm)
    {
        if (!_syncRange.TryGetValue(mm.Value, out var r) || r.To == 0) return 0;
        _syncs.Increment();
        int ret = UpdateRange(mm, r.From, r.To, kernelCommon: false);
        _syncRange[mm.Value] = (0, 0);
        return ret;
    }

    /// <summary>
    /// The walk of [start, end) shared by um_tlb_sync and fix_range; with <paramref name="kernelCommon"/> it is the
    /// pre-6.11 flush_tlb_kernel_range_common. Issues the merged host calls, runs the stub, reports ENOMEM.
    /// </summary>
    private int UpdateRange(MmId mm, ulong start, ulong end, bool kernelCommon)
    {
        start &= ~(PageGeometry.PageSize - 1);
        end = (end + PageGeometry.PageSize - 1) & ~(PageGeometry.PageSize - 1);
        if (start >= end) return 0;
        var ops = new HostOps(_host, mm);
        // The top table's entries span 2^39 bytes with 4 levels, 2^48 with 5.
        var level = (PageTableLevel)(_tables.Levels - 1);
        int ret = UpdateUpperRange(_tables.Pgd(mm), level, start, end, ref ops, kernelCommon);
        // The last merged call goes out only if nothing failed: after an error the walk's remaining work is dropped.
        if (ret == 0) ret = ops.Issue();
        // init_mm is the UML kernel's own host process: its calls are direct syscalls, not stub requests.
        if (!mm.IsInitMm) _host.FlushStub(mm);
        if (ret == ENOMEM) _enomem.Increment();
        return ret;
    }

    /// <summary>update_p4d/pud/pmd_range (and um_tlb_sync's PGD loop): the same shape at every upper level.</summary>
    private int UpdateUpperRange(Pfn table, PageTableLevel level, ulong addr, ulong end, ref HostOps ops, bool kernelCommon)
    {
        int ret = 0;
        do
        {
            ulong next = AddrEnd(addr, end, level);
            var slot = new PteSlot(table, PageGeometry.Index(addr, level), level);
            var e = _tables.Read(slot);
            if (!e.IsPresent)
            {
                if (e.Has(Mark))
                {
                    ret = ops.Unmap(addr, next - addr);
                    if (!kernelCommon) _tables.Write(slot, e.Without(Mark));
                }
            }
            else if (level - 1 == PageTableLevel.Pte) ret = UpdatePteRange(e.Pfn, addr, next, ref ops, kernelCommon);
            else ret = UpdateUpperRange(e.Pfn, level - 1, addr, next, ref ops, kernelCommon);
            addr = next;
        } while (addr != end && ret == 0);
        return ret;
    }

    /// <summary>update_pte_range: host-map marked present PTEs with the prot rule, host-unmap marked empty ones.</summary>
    private int UpdatePteRange(Pfn table, ulong addr, ulong end, ref HostOps ops, bool kernelCommon)
    {
        int ret = 0;
        for (; addr != end && ret == 0; addr += PageGeometry.PageSize)
        {
            var slot = new PteSlot(table, PageGeometry.Index(addr, PageTableLevel.Pte), PageTableLevel.Pte);
            var e = _tables.Read(slot);
            bool marked = e.Has(Mark);
            if (kernelCommon)
            {
                // flush_tlb_kernel_range_common: any empty or new PTE is unmapped first, a present one mapped again.
                if (e.IsPresent && !marked) continue;
                ret = ops.Unmap(addr, PageGeometry.PageSize);
                if (ret == 0 && e.IsPresent) ret = ops.Map(addr, ProtOf(e), e.Pfn.Value << PageGeometry.PageShift);
                continue;
            }
            if (!marked) continue;
            ret = e.IsPresent
                ? ops.Map(addr, ProtOf(e), e.Pfn.Value << PageGeometry.PageShift)
                : ops.Unmap(addr, PageGeometry.PageSize);
            _tables.Write(slot, e.Without(Mark));
        }
        return ret;
    }

    /// <summary>
    /// The host protection of a present PTE: read, write and exec as the PTE allows, but an old (not young) page
    /// gets neither read nor write and a clean one no write, so the first access or write faults and the fault
    /// handler can set the accessed or dirty bit.
    /// </summary>
    public static HostProt ProtOf(PageTableEntry pte)
    {
        var prot = pte.Has(PteFlags.Exec) ? HostProt.Exec : HostProt.None;
        if (!pte.Has(PteFlags.Accessed)) return prot;
        prot |= HostProt.Read;
        if (pte.IsWritable && pte.Has(PteFlags.Dirty)) prot |= HostProt.Write;
        return prot;
    }

    /// <summary>pXd_addr_end: the next boundary at <paramref name="level"/>'s span, or <paramref name="end"/>; safe at the top of the address space.</summary>
    private static ulong AddrEnd(ulong addr, ulong end, PageTableLevel level)
    {
        ulong span = PageGeometry.Span(level);
        ulong boundary = (addr + span) & ~(span - 1);
        return boundary - 1 < end - 1 ? boundary : end;
    }

    /// <summary>The host calls of one walk, each merged with the previous one when contiguous (the stub's compression).</summary>
    private struct HostOps(IHostMappings host, MmId mm)
    {
        private enum Kind : byte { None, Mmap, Munmap }

        private Kind _kind;
        private ulong _addr, _len, _offset;
        private HostProt _prot;

        public int Map(ulong addr, HostProt prot, ulong offset)
        {
            if (_kind == Kind.Mmap && _addr + _len == addr && _prot == prot && _offset + _len == offset)
            {
                _len += PageGeometry.PageSize;
                return 0;
            }
            int ret = Issue();
            (_kind, _addr, _len, _prot, _offset) = (Kind.Mmap, addr, PageGeometry.PageSize, prot, offset);
            return ret;
        }

        public int Unmap(ulong addr, ulong len)
        {
            if (_kind == Kind.Munmap && _addr + _len == addr)
            {
                _len += len;
                return 0;
            }
            int ret = Issue();
            (_kind, _addr, _len) = (Kind.Munmap, addr, len);
            return ret;
        }

        /// <summary>Send the pending call to the host; 0 or its negative errno.</summary>
        public int Issue()
        {
            var kind = _kind;
            _kind = Kind.None;
            return kind switch
            {
                Kind.Mmap => host.Mmap(mm, _addr, _len, _prot, _offset),
                Kind.Munmap => host.Munmap(mm, _addr, _len),
                _ => 0,
            };
        }
    }
}
