// The kinds of traced events. Every event the engine traces is one of the kinds below, each with its kernel name
// and how its operands read: "set_pte addr=0x40001000 pte=pfn 0x5 rw user young",
// "hypercall cmd=MMUEXT_TLB_FLUSH_MULTI vcpus={1}". Guarantees: a trace site can only name a kind from here (the
// compiler sees to it), so every event prints labelled; the labels are made when a trace is printed, never when
// it is recorded (a step stores the kind's reference and three numbers, as it stored a string and two numbers);
// and the names and numbers the run hash mixes are those traced before the kinds existed (the third operand is
// for readers only and never hashed), so a run hashes as it always did.
using System.Globalization;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Devices;
using Pv.Engine.Mm;

namespace Pv.Engine.Sched;

/// <summary>A kind of traced event: its name in kernel terms and how its operands read.</summary>
public sealed class TraceEvent
{
    private readonly Func<ulong, ulong, ulong, string> _operands;

    internal TraceEvent(string name, Func<ulong, ulong, ulong, string> operands)
    {
        Name = name;
        _operands = operands;
    }

    /// <summary>The event's name (<c>tlb_gather_mmu</c>, <c>zap pte</c>).</summary>
    public string Name { get; }

    /// <summary>The operands of one event of this kind, each labelled (<c>addr=0x40000000 pfn=0x5</c>); empty when it has none.</summary>
    public string Operands(ulong a, ulong b, ulong c) => _operands(a, b, c);

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>Every kind of traced event, and how operands are written.</summary>
internal static class TraceEvents
{
    // ---- how operands read ----

    /// <summary>A virtual address; ULONG_MAX is the kernel's "to the end" (a whole-mm notifier range).</summary>
    internal static string Addr(ulong a) => a == ulong.MaxValue ? "ULONG_MAX" : $"0x{a:x}";

    internal static string Hex(ulong v) => $"0x{v:x}";

    internal static string Dec(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>An mm by id: init_mm for 0, as the engine names mms (mm1 is <c>mm=1</c>).</summary>
    internal static string Mm(ulong id) => id == 0 ? "init_mm" : Dec(id);

    /// <summary>A page-table entry as the kernel's accessors see it: none, a pointer to a table, or a page with its permissions.</summary>
    /// <param name="raw">The entry.</param>
    /// <param name="level">The level of the table it sits in, when known: an upper-level entry that is not huge points to a table.</param>
    internal static string Entry(ulong raw, PageTableLevel? level = null)
    {
        var e = new PageTableEntry(raw);
        var words = new List<string>(8);
        if (PteOps.IsNone(e)) words.Add("none");
        else if (!e.IsPresent) words.Add(e.Has(PteFlags.GuardMarker) ? "guard-marker" : "not-present");
        else if (level is > PageTableLevel.Pte && !e.IsHuge) words.Add($"table {Hex(e.Pfn.Value)}");
        else
        {
            words.Add($"pfn {Hex(e.Pfn.Value)}");
            words.Add(e.IsWritable ? "rw" : "ro");
            if (e.Has(PteFlags.User)) words.Add("user");
            if (e.Has(PteFlags.Accessed)) words.Add("young");
            if (e.Has(PteFlags.Dirty)) words.Add("dirty");
            if (e.Has(PteFlags.Exec)) words.Add("exec");
            if (e.IsHuge) words.Add("huge");
            if (e.Has(PteFlags.Global)) words.Add("global");
            if (e.Has(PteFlags.Special)) words.Add("special");
            if (e.Has(PteFlags.SoftDirty)) words.Add("soft-dirty");
        }
        // A backend's software bits (UML's NEEDSYNC) say what the backend still has to do with the entry.
        for (int bit = 0; bit < 4; bit++)
            if ((raw & ((ulong)PteFlags.Software0 << bit)) != 0) words.Add($"sw{bit}");
        return string.Join(' ', words);
    }

    /// <summary>
    /// CPUs 0..62 as a bit each, bit 63 for any CPU from 63 up: a CPU mask in one operand. Built only where the mask
    /// goes into a trace (a hypercall's targets, a grace period's holdouts), never hashed.
    /// </summary>
    internal static ulong CpuBits(in CpuMask mask)
    {
        ulong bits = 0;
        foreach (int cpu in mask) bits |= 1UL << Math.Min(cpu, 63);
        return bits;
    }

    /// <summary>The CPUs of <see cref="CpuBits"/>: <c>{1,2}</c>, <c>{0,63..}</c> when some CPU from 63 up is in it.</summary>
    internal static string Cpus(ulong bits)
    {
        var cpus = Enumerable.Range(0, 63).Where(i => (bits & (1UL << i)) != 0).Select(i => Dec((ulong)i));
        if ((bits & (1UL << 63)) != 0) cpus = cpus.Append("63..");
        return "{" + string.Join(',', cpus) + "}";
    }

    internal static string Access(ulong v) => ((AccessKind)v).ToString().ToLowerInvariant();

    internal static string Result(ulong v) => (FaultResult)v switch
    {
        FaultResult.Handled => "handled",
        FaultResult.Sigsegv => "SIGSEGV",
        FaultResult.Sigbus => "SIGBUS",
        FaultResult.Oom => "VM_FAULT_OOM",
        _ => Dec(v),
    };

    /// <summary>A TLB invalidation, as its kind says: one page, a range, an ASID, every user entry, everything.</summary>
    internal static string Invalidation(ulong start, ulong kind, ulong end) => (TlbInvalidationKind)kind switch
    {
        TlbInvalidationKind.Page => $"kind=page addr={Addr(start)}",
        TlbInvalidationKind.Range => $"kind=range start={Addr(start)} end={Addr(end)}",
        TlbInvalidationKind.Asid => "kind=asid",
        TlbInvalidationKind.AllUser => "kind=all-user",
        TlbInvalidationKind.All => "kind=all",
        _ => $"kind={Dec(kind)}",
    };

    /// <summary>The hypercall commands by their names: Xen's (MMUEXT_* for mmuext_op, mmu_update for page-table writes), Hyper-V's HvCall*.</summary>
    internal static string Hypercall(ulong cmd, ulong addr, ulong vcpus) => (HypercallCommand)cmd switch
    {
        HypercallCommand.MmuUpdate => "cmd=mmu_update",
        HypercallCommand.TlbFlushLocal => "cmd=MMUEXT_TLB_FLUSH_LOCAL",
        HypercallCommand.InvlpgLocal => $"cmd=MMUEXT_INVLPG_LOCAL addr={Addr(addr)}",
        HypercallCommand.TlbFlushMulti => $"cmd=MMUEXT_TLB_FLUSH_MULTI vcpus={Cpus(vcpus)}",
        HypercallCommand.InvlpgMulti => $"cmd=MMUEXT_INVLPG_MULTI addr={Addr(addr)} vcpus={Cpus(vcpus)}",
        HypercallCommand.TlbFlushAll => "cmd=MMUEXT_TLB_FLUSH_ALL",
        HypercallCommand.PinTable => "cmd=MMUEXT_PIN_L4_TABLE",
        HypercallCommand.HvFlushVirtualAddressSpace => $"cmd=HvCallFlushVirtualAddressSpace vcpus={Cpus(vcpus)}",
        HypercallCommand.HvFlushVirtualAddressList => $"cmd=HvCallFlushVirtualAddressList addr={Addr(addr)} vcpus={Cpus(vcpus)}",
        HypercallCommand.HvFlushVirtualAddressSpaceEx => $"cmd=HvCallFlushVirtualAddressSpaceEx vcpus={Cpus(vcpus)}",
        HypercallCommand.HvFlushVirtualAddressListEx => $"cmd=HvCallFlushVirtualAddressListEx addr={Addr(addr)} vcpus={Cpus(vcpus)}",
        _ => $"cmd={Dec(cmd)}",
    };

    private static TraceEvent Kind(string name, Func<ulong, ulong, ulong, string> operands) => new(name, operands);

    private static TraceEvent Kind(string name, Func<ulong, ulong, string> operands) => new(name, (a, b, _) => operands(a, b));

    private static TraceEvent Bare(string name) => new(name, (_, _, _) => "");

    // ---- page tables (Memory/PageTables.cs): a = table << 12 | index, b = the entry written, c = its virtual address ----

    /// <summary>The value written when the entry's virtual address is not known (its table linked nowhere yet).</summary>
    internal const ulong NoAddress = ulong.MaxValue;

    /// <summary>set_pte, set_pmd, set_pud, set_p4d, set_pgd: by the level of the table written (<see cref="PageTableLevel"/>).</summary>
    internal static readonly TraceEvent[] SetEntry =
        [.. new[] { "pte", "pmd", "pud", "p4d", "pgd" }.Select((level, i) => Kind($"set_{level}", (slot, entry, va) =>
            (va == NoAddress ? "" : $"addr={Addr(va)} ") + $"{level}={Entry(entry, (PageTableLevel)i)} [table {Hex(slot >> 12)} #{Dec(slot & 0xfff)}]"))];

    // ---- mmu_gather (Gather/MmuGather.cs) ----
    internal static readonly TraceEvent TlbGatherMmu = Kind("tlb_gather_mmu", (mm, pending) => $"mm={Mm(mm)} tlb_flush_pending={Dec(pending)}");
    internal static readonly TraceEvent TlbGatherMmuFullmm = Kind("tlb_gather_mmu_fullmm", (mm, pending) => $"mm={Mm(mm)} tlb_flush_pending={Dec(pending)}");
    internal static readonly TraceEvent PteFreeTlb = Kind("pte_free_tlb", (addr, table) => $"addr={Addr(addr)} table={Hex(table)}");
    internal static readonly TraceEvent TlbRemoveTablePage = Kind("tlb_remove_page(table)", (_, table) => $"table={Hex(table)}");
    internal static readonly TraceEvent TlbRemoveTableOne = Kind("tlb_remove_table_one", (_, table) => $"table={Hex(table)}");
    internal static readonly TraceEvent TlbRemoveTable = Kind("tlb_remove_table", (batched, table) => $"table={Hex(table)} batched={Dec(batched)}");
    internal static readonly TraceEvent TlbRemoveTableSyncOne = Bare("tlb_remove_table_sync_one");
    internal static readonly TraceEvent MmTlbFlushNested = Kind("mm_tlb_flush_nested", (mm, pending) => $"mm={Mm(mm)} tlb_flush_pending={Dec(pending)}");
    internal static readonly TraceEvent TlbFinishMmu = Kind("tlb_finish_mmu", (mm, pending) => $"mm={Mm(mm)} tlb_flush_pending={Dec(pending)}");
    internal static readonly TraceEvent TlbFlush = Kind("tlb_flush", (start, end) =>
        end == Pv.Abstractions.Gather.TlbFlushInfo.FullMm ? "fullmm" : $"start={Addr(start)} end={Addr(end)}");
    internal static readonly TraceEvent CallRcuTlbRemoveTable = Kind("call_rcu(tlb_remove_table_rcu)", (tables, _) => $"tables={Dec(tables)}");
    internal static readonly TraceEvent FreeTable = Kind("free table", (_, table) => $"table={Hex(table)}");

    // ---- UML host mappings (Uml/HostMmu.cs, Host/HostMappings.cs) ----
    internal static readonly TraceEvent ResumeAfterContextSwitch = Kind("resume after context switch", (mm, _) => $"mm={Mm(mm)}");
    internal static readonly TraceEvent HostAccess = Kind("host access", (addr, pfn) => $"addr={Addr(addr)} pfn={Hex(pfn)}");
    internal static readonly TraceEvent HostSegv = Kind("host SEGV", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent KernelSegvHandled = Kind("kernel SEGV handled", (addr, result) => $"addr={Addr(addr)} result={Result(result)}");
    internal static readonly TraceEvent ReturnToUser = Kind("return to user", (mm, _) => $"mm={Mm(mm)}");
    internal static readonly TraceEvent StubFlush = Kind("stub flush", (mm, queued) => $"mm={Mm(mm)} queued={Dec(queued)}");
    internal static readonly TraceEvent HostSyscall = Kind("host syscall", (mm, len) => $"mm={Mm(mm)} len={Hex(len)}");
    internal static readonly TraceEvent CmdSync = Bare("cmd_sync");

    // ---- files and drivers (Mm/Munmap.cs) ----
    internal static readonly TraceEvent UnmapMappingRangeReturns = Kind("unmap_mapping_range returns", (pgoff, pages) => $"pgoff={Dec(pgoff)} pages={Dec(pages)}");
    internal static readonly TraceEvent TruncateFreesPage = Kind("truncate frees page", (pgoff, page) => $"pgoff={Dec(pgoff)} pfn={Hex(page)}");
    internal static readonly TraceEvent TruncateDropsPage = Kind("truncate drops page from the page cache", (pgoff, page) => $"pgoff={Dec(pgoff)} pfn={Hex(page)}");
    internal static readonly TraceEvent DriverRevokesPfns = Kind("driver revokes pfns", (pgoff, pages) => $"pgoff={Dec(pgoff)} pages={Dec(pages)}");

    // ---- GUP-fast (Mm/Gup.cs) ----
    internal static readonly TraceEvent GupFastIrqOff = Kind("gup_fast irq off", (addr, _) => $"addr={Addr(addr)}");
    internal static readonly TraceEvent GupFastRead = Kind("gup_fast read", (addr, entry) => $"addr={Addr(addr)} entry={Entry(entry)}");
    internal static readonly TraceEvent GupFastIrqOn = Kind("gup_fast irq on", (addr, ok) => $"addr={Addr(addr)} {(ok != 0 ? "pinned" : "fell back")}");

    // ---- zap, faults, VMAs (Mm/*.cs) ----
    internal static readonly TraceEvent ZapPte = Kind("zap pte", (addr, old) => $"addr={Addr(addr)} old={Entry(old, PageTableLevel.Pte)}");
    internal static readonly TraceEvent UnlinkFileVma = Kind("unlink_file_vma", (start, end) => $"start={Addr(start)} end={Addr(end)}");
    internal static readonly TraceEvent KernelFault = Kind("kernel fault", (addr, result) => $"addr={Addr(addr)} result={Result(result)}");
    internal static readonly TraceEvent Sigsegv = Kind("SIGSEGV", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent SigsegvGuardMarker = Kind("SIGSEGV guard marker", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent ProtectionUpgradeNotified = Kind("protection upgrade notified", (addr, pte) => $"addr={Addr(addr)} pte={Entry(pte, PageTableLevel.Pte)}");
    internal static readonly TraceEvent SplitVma = Kind("__split_vma", (addr, _) => $"addr={Addr(addr)}");
    internal static readonly TraceEvent ReclaimLazyfree = Kind("reclaim lazyfree", (addr, pfn) => $"addr={Addr(addr)} pfn={Hex(pfn)}");
    internal static readonly TraceEvent GuardRemove = Kind("guard remove", (addr, _) => $"addr={Addr(addr)}");
    internal static readonly TraceEvent Mmap = Kind("mmap", (addr, len) => $"addr={Addr(addr)} len={Hex(len)}");
    internal static readonly TraceEvent MoveNormalPmd = Kind("move_normal_pmd", (from, to) => $"old_addr={Addr(from)} new_addr={Addr(to)}");
    internal static readonly TraceEvent MovePtes = Kind("move_ptes", (from, to) => $"old_addr={Addr(from)} new_addr={Addr(to)}");

    // ---- khugepaged (Mm/Khugepaged.cs) ----
    internal static readonly TraceEvent CollapseNotCollapsible = Kind("khugepaged: range not collapsible", (haddr, _) => $"haddr={Addr(haddr)}");
    internal static readonly TraceEvent CollapsePteMapsAnotherPage = Kind("khugepaged: pte maps another page", (addr, pte) => $"addr={Addr(addr)} pte={Entry(pte, PageTableLevel.Pte)}");
    internal static readonly TraceEvent PmdpCollapseFlush = Kind("pmdp_collapse_flush", (haddr, table) => $"haddr={Addr(haddr)} table={Hex(table)}");
    internal static readonly TraceEvent PteFree = Kind("pte_free", (haddr, table) => $"haddr={Addr(haddr)} table={Hex(table)}");

    // ---- SVA devices and IOPF (Devices/*.cs) ----
    internal static readonly TraceEvent IommuReportDeviceFault = Kind("iommu_report_device_fault", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent IopfPageResponse = Kind("iopf page response", (addr, response) =>
        $"addr={Addr(addr)} {(PageResponse)response switch { PageResponse.Success => "IOMMU_PAGE_RESP_SUCCESS", PageResponse.Invalid => "IOMMU_PAGE_RESP_INVALID", _ => "pending" }}");
    internal static readonly TraceEvent DmaFault = Kind("dma fault", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent DmaCached = Kind("dma (cached)", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent DmaWalk = Kind("dma (walk)", (addr, access) => $"addr={Addr(addr)} access={Access(access)}");
    internal static readonly TraceEvent IommuSvaUnbindDevice = Kind("iommu_sva_unbind_device", (device, _) => $"device={Dec(device)}");

    // ---- a mirroring driver's interval notifier (Devices/MirrorDriver.cs): one set of kinds per driver, named after it ----

    /// <summary>The invalidate callback of driver <paramref name="driver"/>.</summary>
    internal static TraceEvent MirrorInvalidate(string driver) => Kind($"{driver} invalidate", (start, end) => $"start={Addr(start)} end={Addr(end)}");

    /// <summary><c>mmu_interval_read_retry</c> told driver <paramref name="driver"/> to collect again.</summary>
    internal static TraceEvent MirrorReadRetry(string driver) => Kind($"{driver} read_retry", (start, seq) => $"start={Addr(start)} seq={Dec(seq)}");

    /// <summary>Driver <paramref name="driver"/> installed its device mappings.</summary>
    internal static TraceEvent MirrorInstalled(string driver) => Kind($"{driver} installed", (start, pages) => $"start={Addr(start)} pages={Dec(pages)}");

    // ---- CPUs: the MMU, walks, TLBs, mm switches, IRQs (Cpu/*.cs) ----
    internal static readonly TraceEvent WalkRestarted = Kind("walk restarted", (addr, _) => $"addr={Addr(addr)}");
    internal static readonly TraceEvent WalkRead = Kind("walk read", (addr, entry) => $"addr={Addr(addr)} entry={Entry(entry)}");
    internal static readonly TraceEvent SpecWalkRead = Kind("spec walk read", (addr, entry) => $"addr={Addr(addr)} entry={Entry(entry)}");
    internal static readonly TraceEvent TlbHit = Kind("tlb hit", (addr, pfn) => $"addr={Addr(addr)} pfn={Hex(pfn)}");
    internal static readonly TraceEvent TlbProtectionFault = Kind("tlb protection fault", (addr, pfn) => $"addr={Addr(addr)} pfn={Hex(pfn)}");
    internal static readonly TraceEvent TlbInvalidate = Kind("tlb invalidate", (start, kind, end) => Invalidation(start, kind, end));
    internal static readonly TraceEvent TlbiBroadcast = Kind("tlbi broadcast", (start, kind, end) => Invalidation(start, kind, end));
    internal static readonly TraceEvent LoadMm = Kind("load mm", (prev, next) => $"prev={Mm(prev)} next={Mm(next)}");
    internal static readonly TraceEvent SwitchToInitMm = Kind("switch to init_mm", (prev, _) => $"prev={Mm(prev)}");
    internal static readonly TraceEvent EnterLazyTlb = Kind("enter lazy tlb", (mm, _) => $"mm={Mm(mm)}");
    internal static readonly TraceEvent LocalIrqDisable = Kind("local_irq_disable", (_, depth) => $"depth={Dec(depth)}");
    internal static readonly TraceEvent LocalIrqEnable = Kind("local_irq_enable", (_, depth) => $"depth={Dec(depth)}");
    internal static readonly TraceEvent IpiTaken = Kind("ipi taken", (_, cpu) => $"cpu={Dec(cpu)}");

    // ---- IPIs and the hypervisor (Host/Ipi.cs): the hypercall's c = its target vCPUs (CpuBits) ----
    internal static readonly TraceEvent IpiSent = Kind("ipi sent", (cpu, wait) => $"cpu={Dec(cpu)} {(wait != 0 ? "wait" : "nowait")}");
    internal static readonly TraceEvent HypercallOp = Kind("hypercall", Hypercall);

    // ---- the firmware (Host/Ipi.cs): c = the target harts (CpuBits); a range's end is not traced ----
    internal static readonly TraceEvent SbiRemoteSfenceVma = Kind("sbi_remote_sfence_vma", (start, kind, harts) =>
        $"harts={Cpus(harts)} " + ((TlbInvalidationKind)kind == TlbInvalidationKind.Range ? $"kind=range start={Addr(start)}" : Invalidation(start, kind, 0)));

    // ---- the hypervisor's vCPU scheduling (Host/VcpuScheduling.cs): b = the steal_time.preempted byte ----
    internal static readonly TraceEvent VcpuPreempted = Kind("vcpu preempted", (cpu, st) => $"vcpu={Dec(cpu)} steal_time.preempted={Steal(st)}");
    internal static readonly TraceEvent StealTimeCmpxchg = Kind("steal_time cmpxchg", (cpu, st) => $"vcpu={Dec(cpu)} preempted={Steal(st)}");
    internal static readonly TraceEvent StealTimeRead = Kind("record_steal_time read", (cpu, st) => $"vcpu={Dec(cpu)} copy.preempted={Steal(st)}");
    internal static readonly TraceEvent StealTimeFlush = Kind("kvm_vcpu_flush_tlb_guest", (cpu, _) => $"vcpu={Dec(cpu)}");
    internal static readonly TraceEvent VcpuResumed = Kind("vcpu resumed", (cpu, st) => $"vcpu={Dec(cpu)} steal_time.preempted was {Steal(st)}");

    private static string Steal(ulong st) => st == 0 ? "0" : string.Join("|",
        new[] { (KvmVcpuState.Preempted, "PREEMPTED"), (KvmVcpuState.FlushTlb, "FLUSH_TLB") }.Where(b => (st & b.Item1) != 0).Select(b => b.Item2));

    // ---- RCU (Rcu/RcuState.cs): gp start's c = the CPUs holding the grace period back (CpuBits) ----
    internal static readonly TraceEvent CallRcu = Kind("call_rcu", (gp, _) => $"gp={Dec(gp)}");
    internal static readonly TraceEvent SynchronizeRcu = Kind("synchronize_rcu", (gp, _) => $"gp={Dec(gp)}");
    internal static readonly TraceEvent GpStart = Kind("gp start", (gp, _, holdouts) => $"gp={Dec(gp)} holdouts={Cpus(holdouts)}");
    internal static readonly TraceEvent GpEnd = Kind("gp end", (gp, _) => $"gp={Dec(gp)}");

    // ---- mmu notifiers (Notifiers/NotifierRegistry.cs) ----
    internal static readonly TraceEvent ArchInvalidateSecondaryTlbs = Kind("arch_invalidate_secondary_tlbs", (start, end) => $"start={Addr(start)} end={Addr(end)}");
    internal static readonly TraceEvent InvalidateRangeStart = Kind("invalidate_range_start", (start, end) => $"start={Addr(start)} end={Addr(end)}");
    internal static readonly TraceEvent InvalidateRangeEnd = Kind("invalidate_range_end", (start, end) => $"start={Addr(start)} end={Addr(end)}");

    // ---- the oracle (Oracle/Oracle.cs) ----
    internal static readonly TraceEvent Violation = Kind("VIOLATION", (id, addr) => $"invariant={(Oracle.InvariantId)id} addr={Addr(addr)}");
}
