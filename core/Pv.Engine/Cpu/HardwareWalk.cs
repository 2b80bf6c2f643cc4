// A hardware page walk as a reusable step sequence: the walk Mmu.Walk describes, one table level per step,
// written out as a state machine so that a CPU keeps a few of them and a TLB miss allocates nothing (a walk
// is the hot path of every access that misses). A walk goes back to its CPU's pool when its thread drops it
// (Dispose); one abandoned mid-walk (the run ended) is simply never reused. A reset machine keeps its CPUs,
// and with them these pools.
using System.Collections;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Cpu;

/// <summary>One hardware walk of one CPU, rented from <see cref="SimCpu"/> for each walk.</summary>
internal sealed class HardwareWalk : IEnumerable<Step>, IEnumerator<Step>
{
    private enum State : byte { Idle, Fresh, Level, Finishing, Done }

    private readonly SimCpu _cpu;
    private Machine _m = null!;
    private MmId _mm;
    private ulong _address;
    private AccessKind _access;
    private AccessResult _result = null!;
    private bool _speculative, _performAccess;
    private State _state;
    private string _agent = "";
    private Pfn _table;
    private uint _gen, _walkGeneration;
    private PageTableLevel _level;
    private string _via = "";

    internal HardwareWalk(SimCpu cpu) => _cpu = cpu;

    /// <summary>Sets the walk up; it starts at the first MoveNext, in the step that runs it.</summary>
    internal HardwareWalk Start(Machine m, MmId mm, ulong address, AccessKind access, AccessResult result, bool speculative, bool performAccess)
    {
        (_m, _mm, _address, _access, _result, _speculative, _performAccess) = (m, mm, address, access, result, speculative, performAccess);
        _state = State.Fresh;
        return this;
    }

    /// <inheritdoc/>
    public Step Current => Step.Yield;

    object IEnumerator.Current => Current;

    /// <inheritdoc/>
    public IEnumerator<Step> GetEnumerator() => this;

    IEnumerator IEnumerable.GetEnumerator() => this;

    /// <inheritdoc/>
    public bool MoveNext()
    {
        var m = _m;
        switch (_state)
        {
            case State.Fresh:
                _agent = _speculative ? _cpu.SpeculativeAgent : m.CurrentAgent;
                m.Metrics.Walks.Increment();
                if (_speculative) m.Metrics.SpeculativeWalks.Increment();
                Begin();
                break;
            case State.Level:
                break;
            case State.Finishing:
                _state = State.Done;
                return false;
            default:
                return false;
        }
        if (_cpu.WalkGeneration != _walkGeneration)
        {
            // An invalidation of walk caches (or a CR3 write) reached this CPU mid-walk: the hardware drops the walk;
            // a demand walk starts over, a speculative one is abandoned.
            m.Trace(TraceEvents.WalkRestarted, _address, 0);
            if (_speculative) return End(AccessStatus.NotPresent);
            Begin();
        }
        if (!m.Oracle.CheckTableRead(_agent, _mm, _address, _table, _gen, _via)) return End(AccessStatus.Violation);
        var mem = m.Memory;
        var slot = PageTables.SlotOf(_table, _address, _level);
        var e = new PageTableEntry(mem.Entries(_table)[slot.Index]);
        m.Cost.Charge(_cpu.Id, m.Cost.Model.WalkLevel);
        m.Trace(_speculative ? TraceEvents.SpecWalkRead : TraceEvents.WalkRead, _address, e.Raw);
        _result.Slot = slot;
        _result.Entry = e;
        if (!e.IsPresent) return Last(AccessStatus.NotPresent);
        if (_level == PageTableLevel.Pte || e.IsHuge)
        {
            if (!Mmu.Permits(e.Flags, _access)) return Last(AccessStatus.Protection);
            // The hardware's atomic A/D update of the leaf.
            var updated = e.With(_access == AccessKind.Write ? PteFlags.Accessed | PteFlags.Dirty : PteFlags.Accessed);
            if (updated.Raw != e.Raw) mem.Entries(_table)[slot.Index] = updated.Raw;
            var target = PageTables.TargetPfn(updated, _level, _address);
            _cpu.Tlb.Fill(_mm.Value, _address, _level, updated.Pfn, mem.GenerationOf(target), updated.Flags, m.Step);
            _result.Entry = updated;
            _result.Pfn = target;
            _result.Status = AccessStatus.Ok;
            // The access itself happens in the step that read the leaf: what it reaches is checked now.
            if (_performAccess)
            {
                if (m.Oracle.CheckAccess(m.CurrentAgent, _mm, _address, _access, target, mem.GenerationOf(target), cached: false, filledAt: m.Step))
                    Mmu.Touch(m, target, _access, _result);
                else _result.Status = AccessStatus.Violation;
            }
            _state = State.Finishing;
            return true;
        }
        var child = e.Pfn;
        uint childGen = mem.GenerationOf(child);
        _cpu.WalkCache.Fill(_mm.Value, _address, _level - 1, child, childGen);
        (_table, _gen, _level, _via) = (child, childGen, _level - 1, _speculative ? "speculative walk" : "hardware walk");
        _state = State.Level;
        return true;
    }

    /// <summary>The walk stops in this step with <paramref name="status"/> (no step of its own).</summary>
    private bool End(AccessStatus status)
    {
        _result.Status = status;
        _state = State.Done;
        return false;
    }

    /// <summary>The walk stops with <paramref name="status"/> after this step.</summary>
    private bool Last(AccessStatus status)
    {
        _result.Status = status;
        _state = State.Finishing;
        return true;
    }

    private void Begin()
    {
        var m = _m;
        _walkGeneration = _cpu.WalkGeneration;
        if (_cpu.WalkCache.TryLookup(_mm.Value, _address, out var hit))
        {
            m.Metrics.WalkCacheHits.Increment();
            (_table, _gen, _level, _via) = (hit.Table, hit.Generation, hit.TableLevel, "walk-cache hit");
        }
        else
        {
            _table = m.Mm(_mm).Pgd;
            (_gen, _level, _via) = (m.Memory.GenerationOf(_table), m.PageTables.TopLevel, "hardware walk");
        }
    }

    /// <inheritdoc/>
    public void Reset() => throw new NotSupportedException("a hardware walk runs once per rental");

    /// <summary>The thread is done with the walk: back to its CPU's pool, once.</summary>
    public void Dispose()
    {
        if (_state == State.Idle) return;
        _state = State.Idle;
        _m = null!;
        _result = null!;
        _cpu.ReturnWalk(this);
    }
}
