// A driver that mirrors part of an mm into its device's own page table (the HMM pattern: nouveau, amdgpu
// SVM) and keeps it coherent with an interval notifier (mm/mmu_notifier.c):
//   again: seq = mmu_interval_read_begin(sub)   (waits while an invalidation of the interval runs)
//          collect the PTEs (hmm_range_fault: under mmap_lock for read, faulting missing pages in)
//          take the driver lock; if mmu_interval_read_retry(sub, seq): unlock, goto again
//          install the device mappings; unlock
// and its invalidate callback records the new sequence (mmu_interval_set_seq) and zaps the device mappings
// in the range. The kernel's callback takes the driver lock; here the retry check and the install are one
// atomic step, so no invalidation can fall between them, which is what the lock guarantees. A broken
// variant skips read_retry: it can install what it collected before an invalidation, which the oracle sees
// as O7 (installed inside an active invalidation) or, once the page is freed, as O1 on a device access.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Devices;

/// <summary>Where the driver is in its collect/install cycle.</summary>
internal enum MirrorState : byte
{
    /// <summary>Nothing started.</summary>
    Idle,
    /// <summary>read_begin returned; collecting PTEs.</summary>
    Collecting,
    /// <summary>PTEs collected; about to take the lock.</summary>
    Collected,
    /// <summary>Device mappings installed.</summary>
    Installed,
    /// <summary>A page could not be faulted in.</summary>
    Failed,
}

/// <summary>One device mapping the driver installed: the page and the permission it mirrored.</summary>
/// <param name="Pfn">The frame.</param>
/// <param name="Generation">The frame's generation when the PTE was collected.</param>
/// <param name="Writable">The PTE was writable.</param>
/// <param name="FilledAt">The step the PTE was collected at (the translation's fill, for O3).</param>
internal readonly record struct MirroredPage(Pfn Pfn, uint Generation, bool Writable, long FilledAt);

/// <summary>A mirroring driver with an interval notifier and its own kernel thread.</summary>
internal sealed class MirrorDriver : IMmuIntervalNotifierOps
{
    private readonly Machine _machine;
    private readonly bool _honourReadRetry;
    private readonly Dictionary<ulong, MirroredPage> _mappings = [];
    private readonly SimMutex _lock;
    // The driver's own event kinds, named after it (two drivers of one machine stay apart in a trace).
    private readonly TraceEvent _traceInvalidate, _traceReadRetry, _traceInstalled;

    /// <summary>
    /// Inserts the interval notifier over [start, start + length) of <paramref name="mm"/> and adds the driver's thread.
    /// <paramref name="honourReadRetry"/> false is the broken driver. Call before the machine runs.
    /// </summary>
    public MirrorDriver(Machine machine, MmStruct mm, ulong start, ulong length, bool honourReadRetry = true, string name = "drv")
    {
        _machine = machine;
        _honourReadRetry = honourReadRetry;
        Mm = mm;
        Name = name;
        _lock = new SimMutex($"{name}.lock");
        (_traceInvalidate, _traceReadRetry, _traceInstalled) = (TraceEvents.MirrorInvalidate(name), TraceEvents.MirrorReadRetry(name), TraceEvents.MirrorInstalled(name));
        Subscription = machine.Notifiers.IntervalInsert(mm.Id, start, length, this);
        Thread = machine.AddThread(name, ThreadKind.Kernel, null, mm);
    }

    /// <summary>The mirrored mm.</summary>
    public MmStruct Mm { get; }

    /// <summary>The driver's name in reports.</summary>
    public string Name { get; }

    /// <summary>The interval subscription.</summary>
    public MmuIntervalNotifier Subscription { get; }

    /// <summary>The driver's thread.</summary>
    public SimThread Thread { get; }

    /// <summary>Where the last populate is.</summary>
    public MirrorState State { get; private set; }

    /// <summary>Times read_retry sent the driver back to read_begin.</summary>
    public int Retries { get; private set; }

    /// <summary>The device mappings, by page.</summary>
    public IReadOnlyDictionary<ulong, MirroredPage> Mappings => _mappings;

    /// <inheritdoc/>
    public bool Invalidate(MmuIntervalNotifier subscription, in MmuNotifierRange range, ulong currentSeq)
    {
        _machine.Notifiers.IntervalSetSeq(subscription, currentSeq);
        ulong start = range.Start, end = range.End;
        foreach (var page in _mappings.Keys.Where(p => p >= start && p < end).ToList()) _mappings.Remove(page);
        _machine.Trace(_traceInvalidate, range.Start, range.End);
        return true;
    }

    /// <summary>Mirror <paramref name="pages"/> pages from <paramref name="start"/> (read_begin, collect, lock, read_retry, install).</summary>
    public IEnumerable<Step> Populate(ulong start, int pages)
    {
        var m = _machine;
        var t = Thread;
        while (true)
        {
            ulong? seq;
            while ((seq = m.Notifiers.IntervalReadBegin(Subscription)) is null) yield return Step.Yield;
            State = MirrorState.Collecting;
            var collected = new List<(ulong Page, MirroredPage Entry)>(pages);
            yield return Step.Call(Mm.MmapLock.DownRead(t));
            for (int i = 0; i < pages; i++)
            {
                ulong page = (start & ~(PageGeometry.PageSize - 1)) + ((ulong)i << PageGeometry.PageShift);
                if (!m.Oracle.PageTablePermits(Mm.Id, page, AccessKind.Read, out _))
                {
                    // hmm_range_fault with HMM_PFN_REQ_FAULT: fault the page in, then read it.
                    var outcome = new FaultOutcome();
                    yield return Step.Call(Fault.HandleMmFaultLocked(m, t, Mm, page, AccessKind.Read, outcome));
                    if (outcome.Result != FaultResult.Handled)
                    {
                        Mm.MmapLock.UpRead();
                        State = MirrorState.Failed;
                        yield return Step.Yield;
                        yield break;
                    }
                }
                if (m.PageTables.TryWalk(Mm.Id, page, out var slot, out var leaf))
                {
                    var pfn = Memory.PageTables.TargetPfn(leaf, slot.Level, page);
                    collected.Add((page, new MirroredPage(pfn, m.Memory.GenerationOf(pfn), leaf.IsWritable, m.Step)));
                }
                yield return Step.Yield;
            }
            Mm.MmapLock.UpRead();
            State = MirrorState.Collected;
            yield return Step.Yield;
            yield return Step.Call(_lock.Lock(t));
            if (_honourReadRetry && m.Notifiers.IntervalReadRetry(Subscription, seq.Value))
            {
                _lock.Unlock(t);
                Retries++;
                m.Trace(_traceReadRetry, start, seq.Value);
                yield return Step.Yield;
                continue;
            }
            foreach (var (page, entry) in collected)
            {
                if (m.Notifiers.InvalidationActive(Mm.Id, page))
                {
                    m.Oracle.Report(new Oracle.Violation(Oracle.InvariantId.O7, $"{Name} installs a device mapping inside an active invalidation",
                        Name, Mm.Id, page, entry.Pfn, entry.Generation, m.Memory.GenerationOf(entry.Pfn), m.Step));
                    _lock.Unlock(t);
                    yield return Step.Yield;
                    yield break;
                }
                _mappings[page] = entry;
            }
            _lock.Unlock(t);
            State = MirrorState.Installed;
            m.Trace(_traceInstalled, start, (ulong)collected.Count);
            yield return Step.Yield;
            yield break;
        }
    }

    /// <summary>A device access through the mirror: mirrored pages are cached translations (O1/O3 are checked on them).</summary>
    public IEnumerable<Step> DeviceAccess(ulong address, AccessKind access)
    {
        ulong page = address & ~(PageGeometry.PageSize - 1);
        if (!_mappings.ContainsKey(page)) yield return Step.Call(Populate(page, 1));
        if (_mappings.TryGetValue(page, out var entry) && (access != AccessKind.Write || entry.Writable))
            _machine.Oracle.CheckAccess(Name, Mm.Id, address, access, entry.Pfn, entry.Generation, cached: true, entry.FilledAt);
        yield return Step.Yield;
    }
}
