// Work shared by sessions that ask the same thing at once (two identical `pv explore --resume` or `pv ab --resume`
// on one database): each unit (a chunk, a seed) is computed by one of them. Before computing a unit, a session
// claims it in one immediate transaction: a unit with a stored row is done (take the row), a unit another live
// session has claimed is busy (go on to the next, come back later), anything else gets this session's claim (the
// claimant's id, host and pid, and a timestamp). The row and the release of the claim commit together. A claimant
// renews its timestamp from a timer while it holds claims; a claim not renewed within the lease time, or whose
// claimant is a process of this host that no longer runs (kill -9), is taken over. Units settle in their order's
// terms, whoever computed them, and a computation is deterministic, so each session ends with what one session
// alone ends with. A session that does not resume claims every unit whatever is stored or claimed (it was asked to
// compute again) and replaces the rows; a resuming session running beside it waits for those rows.
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Store;

/// <summary>One session's claims on units of work in a <see cref="ResultsStore"/>.</summary>
public sealed class WorkLeases : IDisposable
{
    /// <summary>How long a claim stays good without renewal (the renewal timer runs at a quarter of it).</summary>
    public static readonly TimeSpan DefaultLeaseTime = TimeSpan.FromSeconds(30);

    /// <summary>How often a session waiting on another's claim looks again.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private readonly ResultsStore _store;
    private readonly string _session, _backend;
    private readonly bool _resume;
    private readonly string _owner = Guid.NewGuid().ToString("N");
    private readonly TimeSpan _leaseTime;
    private readonly SqliteConnection _renewals;
    private readonly Timer _renew;
    private readonly object _renewing = new();

    /// <summary>
    /// Claims on units of <paramref name="session"/> on <paramref name="backend"/> in <paramref name="store"/>; with
    /// <paramref name="resume"/>, stored rows are taken and live claims of other sessions waited for, else every unit is computed.
    /// </summary>
    public WorkLeases(ResultsStore store, string session, string backend, bool resume, TimeSpan? leaseTime = null)
    {
        (_store, _session, _backend, _resume, _leaseTime) = (store, session, backend, resume, leaseTime ?? DefaultLeaseTime);
        // The timer's own connection: a connection is not shared between threads.
        _renewals = ResultsStore.Checked(store.Path, () => ResultsStore.Connect(store.Path, SqliteOpenMode.ReadWrite));
        _renew = new Timer(_ => Renew(), null, _leaseTime / 4, _leaseTime / 4);
    }

    /// <summary>
    /// Settles <paramref name="seeds"/> and returns their rows in order, up to the first that <paramref name="last"/> accepts
    /// (all of them when none does): a stored row is taken, a unit claimed by nobody alive is claimed and computed by
    /// <paramref name="compute"/> (its row stored as the claim is released), a unit another session is computing is
    /// waited for. With <paramref name="inOrder"/>, no unit is computed while an earlier one is still being computed
    /// elsewhere (a search: a later chunk's violation is not the first until every earlier chunk is clean); without it
    /// the units are independent and sessions split them. <paramref name="settled"/> is told each row as it settles. A
    /// failure of <paramref name="compute"/> releases the claim and is thrown as it is.
    /// </summary>
    public IReadOnlyList<StoredRun> Settle(IReadOnlyList<ulong> seeds, Func<ulong, StoredRun> compute, bool inOrder,
        Func<StoredRun, bool>? last = null, Action<StoredRun>? settled = null) =>
        Settle(seeds, compute, (_, row) => row, jobs: 1, inOrder, last, settled);

    /// <summary>
    /// As <see cref="Settle(IReadOnlyList{ulong}, Func{ulong, StoredRun}, bool, Func{StoredRun, bool}?, Action{StoredRun}?)"/>,
    /// on up to <paramref name="jobs"/> worker threads: this thread claims the next units (in order, up to
    /// <see cref="BatchSize"/>), the workers <paramref name="compute"/> them at once (it must be safe to call from several
    /// threads), and this thread <paramref name="finish"/>es, stores and settles them in order. A unit past the
    /// <paramref name="last"/> one of its batch, or after a failed one, has its claim released and no row: the store ends
    /// as one worker leaves it, whatever <paramref name="jobs"/>.
    /// </summary>
    public IReadOnlyList<StoredRun> Settle<T>(IReadOnlyList<ulong> seeds, Func<ulong, T> compute, Func<ulong, T, StoredRun> finish, int jobs, bool inOrder,
        Func<StoredRun, bool>? last = null, Action<StoredRun>? settled = null)
    {
        var rows = new StoredRun?[seeds.Count];
        int end = seeds.Count;
        void Settled(int i, StoredRun row)
        {
            rows[i] = row;
            if (last?.Invoke(row) == true) end = Math.Min(end, i + 1);
            settled?.Invoke(row);
        }
        while (true)
        {
            bool waiting = false;
            var batch = new List<int>();
            for (int i = 0; i < end && batch.Count < BatchSize(jobs); i++)
            {
                if (rows[i] is not null) continue;
                var (row, mine) = Claim(seeds[i]);
                if (row is not null) { Settled(i, row); continue; }
                if (mine) { batch.Add(i); continue; }
                waiting = true;
                if (inOrder) break;
            }
            if (batch.Count > 0)
            {
                var outcomes = Workers.Attempt(batch, jobs, i => compute(seeds[i]));
                for (int k = 0; k < batch.Count; k++)
                {
                    int i = batch[k];
                    if (i >= end || outcomes[k].Failure is not null)
                    {
                        // Past the last unit, or the failure of this one: no row, as one worker in order would leave it.
                        foreach (int rest in batch.Skip(k)) Release(seeds[rest]);
                        outcomes[k].Failure?.Throw();
                        break;
                    }
                    StoredRun row;
                    try
                    {
                        row = finish(seeds[i], outcomes[k].Result!);
                    }
                    catch
                    {
                        foreach (int rest in batch.Skip(k)) Release(seeds[rest]);
                        throw;
                    }
                    Complete(row);
                    Settled(i, row);
                }
                continue;
            }
            if (!waiting) return [.. rows.Take(end).Cast<StoredRun>()];
            // Another session is computing a unit this one needs: wait for its row, or for its claim to lapse.
            RunWatch.Current?.ThrowIfStopRequested();
            Thread.Sleep(Poll);
        }
    }

    /// <summary>
    /// Units claimed and computed at once: one for a single worker (strictly in order); with several, a few per worker, so
    /// the workers share them out as they finish and wait for each other (and for this thread's store writes) once per
    /// batch rather than once per unit. What settles is the same: units past the last one are released, not stored.
    /// </summary>
    private static int BatchSize(int jobs) => jobs <= 1 ? 1 : jobs * UnitsPerWorker;

    private const int UnitsPerWorker = 4;

    private (StoredRun? Row, bool Mine) Claim(ulong seed) => ResultsStore.Checked<(StoredRun?, bool)>(_store.Path, () =>
    {
        var db = _store.Connection;
        using var tx = db.BeginTransaction();
        if (_resume && _store.Find(_session, _backend, seed, tx) is { } row) return (row, false);
        using var cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT owner, host, pid, renewed_at FROM claims WHERE session = $session AND backend = $backend AND seed = $seed";
        Key(cmd, seed);
        using (var r = cmd.ExecuteReader())
            if (_resume && r.Read() && r.GetString(0) != _owner && Alive(r.GetString(1), r.GetInt64(2), r.GetInt64(3)))
                return (null, false);
        ResultsStore.Execute(db, """
            INSERT OR REPLACE INTO claims (session, backend, seed, owner, host, pid, renewed_at)
            VALUES ($session, $backend, $seed, $owner, $host, $pid, $now)
            """, tx, ("$session", _session), ("$backend", _backend), ("$seed", unchecked((long)seed)), ("$owner", _owner),
            ("$host", Environment.MachineName), ("$pid", (long)Environment.ProcessId), ("$now", DateTime.UtcNow.Ticks));
        tx.Commit();
        return (null, true);
    });

    /// <summary>Whether a claim renewed at <paramref name="renewed"/> (UTC ticks) by process <paramref name="pid"/> of <paramref name="host"/> still holds.</summary>
    private bool Alive(string host, long pid, long renewed)
    {
        if (DateTime.UtcNow.Ticks - renewed > _leaseTime.Ticks) return false;
        if (host != Environment.MachineName || pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById((int)pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            // No such process on this host: its claimant was killed.
            return false;
        }
    }

    /// <summary>Stores <paramref name="row"/> and drops this session's claim on its unit, in one transaction.</summary>
    private void Complete(StoredRun row) => ResultsStore.Checked(_store.Path, () =>
    {
        using var tx = _store.Connection.BeginTransaction();
        _store.Upsert(row, tx);
        DropClaim(row.Seed, tx);
        tx.Commit();
        return 0;
    });

    private void Release(ulong seed) => ResultsStore.Checked(_store.Path, () => DropClaim(seed, null));

    private int DropClaim(ulong seed, SqliteTransaction? tx) => ResultsStore.Execute(_store.Connection,
        "DELETE FROM claims WHERE session = $session AND backend = $backend AND seed = $seed AND owner = $owner", tx,
        ("$session", _session), ("$backend", _backend), ("$seed", unchecked((long)seed)), ("$owner", _owner));

    private void Key(SqliteCommand cmd, ulong seed)
    {
        cmd.Parameters.AddWithValue("$session", _session);
        cmd.Parameters.AddWithValue("$backend", _backend);
        cmd.Parameters.AddWithValue("$seed", unchecked((long)seed));
    }

    private void Renew()
    {
        lock (_renewing)
        {
            try
            {
                ResultsStore.Execute(_renewals, "UPDATE claims SET renewed_at = $now WHERE owner = $owner", null,
                    ("$now", DateTime.UtcNow.Ticks), ("$owner", _owner));
            }
            catch (Exception e) when (e is SqliteException or ObjectDisposedException or InvalidOperationException)
            {
                // A renewal missed (the file busy past the timeout, the leases being disposed) costs at worst a unit
                // computed twice, never a wrong row: nothing to report from a timer thread.
            }
        }
    }

    /// <summary>Stops renewing and closes the renewal connection (claims still held lapse with the lease time).</summary>
    public void Dispose()
    {
        _renew.Dispose();
        lock (_renewing) _renewals.Dispose();
    }
}
