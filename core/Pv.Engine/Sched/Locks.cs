// Kernel locks as step-level primitives: a spinlock/mutex (the PTL) and a reader-writer semaphore
// (mmap_lock, i_mmap_rwsem). Taking a lock is one step; a thread that cannot take it blocks and re-tries
// when it becomes free, so lock order and contention appear in the interleavings exactly as in the kernel.
namespace Pv.Engine.Sched;

/// <summary>A mutual-exclusion lock (spinlock_t or struct mutex).</summary>
internal sealed class SimMutex(string name) : IWaitCondition
{
    /// <summary>The lock's name (for example <c>ptl</c>).</summary>
    public string Name { get; } = name;

    /// <summary>The holder, or null.</summary>
    public SimThread? Owner { get; private set; }

    /// <summary>Take the lock: one step, blocking while another thread holds it.</summary>
    public IEnumerable<Step> Lock(SimThread thread)
    {
        while (Owner is not null)
        {
            if (Owner == thread) throw new EngineBugException($"{thread.Name} takes {Name} recursively");
            yield return Step.Wait(this);
        }
        Owner = thread;
        yield return Step.Yield;
    }

    /// <summary>Release the lock (part of the caller's current step).</summary>
    public void Unlock(SimThread thread)
    {
        if (Owner != thread) throw new EngineBugException($"{thread.Name} releases {Name} held by {Owner?.Name ?? "nobody"}");
        Owner = null;
    }

    /// <inheritdoc/>
    public bool IsSatisfied => Owner is null;

    /// <inheritdoc/>
    public string Describe() => $"{Name} held by {Owner?.Name}";
}

/// <summary>A reader-writer semaphore (struct rw_semaphore): mmap_lock, i_mmap_rwsem.</summary>
internal sealed class SimRwSem(string name)
{
    private readonly ReadWaiter _readWaiter = new();
    private readonly WriteWaiter _writeWaiter = new();

    /// <summary>The semaphore's name.</summary>
    public string Name { get; } = name;

    /// <summary>Number of readers holding it.</summary>
    public int Readers { get; private set; }

    /// <summary>The writer holding it, or null.</summary>
    public SimThread? Writer { get; private set; }

    /// <summary><c>down_read</c>: one step, blocking while a writer holds it.</summary>
    public IEnumerable<Step> DownRead(SimThread thread)
    {
        _readWaiter.Sem = this;
        while (Writer is not null) yield return Step.Wait(_readWaiter);
        Readers++;
        yield return Step.Yield;
    }

    /// <summary><c>up_read</c>.</summary>
    public void UpRead()
    {
        if (Readers <= 0) throw new EngineBugException($"up_read of {Name} without readers");
        Readers--;
    }

    /// <summary><c>down_write</c>: one step, blocking while anyone holds it.</summary>
    public IEnumerable<Step> DownWrite(SimThread thread)
    {
        _writeWaiter.Sem = this;
        while (Writer is not null || Readers > 0)
        {
            if (Writer == thread) throw new EngineBugException($"{thread.Name} takes {Name} for write recursively");
            yield return Step.Wait(_writeWaiter);
        }
        Writer = thread;
        yield return Step.Yield;
    }

    /// <summary><c>up_write</c>.</summary>
    public void UpWrite(SimThread thread)
    {
        if (Writer != thread) throw new EngineBugException($"{thread.Name} releases {Name} held by {Writer?.Name ?? "nobody"}");
        Writer = null;
    }

    private sealed class ReadWaiter : IWaitCondition
    {
        public SimRwSem Sem = null!;
        public bool IsSatisfied => Sem.Writer is null;
        public string Describe() => $"{Sem.Name} (read) held by writer {Sem.Writer?.Name}";
    }

    private sealed class WriteWaiter : IWaitCondition
    {
        public SimRwSem Sem = null!;
        public bool IsSatisfied => Sem.Writer is null && Sem.Readers == 0;
        public string Describe() => $"{Sem.Name} (write) held by {(Sem.Writer?.Name ?? $"{Sem.Readers} readers")}";
    }
}
