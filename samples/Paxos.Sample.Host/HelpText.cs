namespace Paxos.Sample;

/// <summary>What <c>--help</c> prints.</summary>
internal static class HelpText
{
    public const string Text = """
        Paxos.Core sample host: a replicated key-value store on Paxos for System Builders.

        DEMO (the default)
          dotnet run --project samples/Paxos.Sample.Host [-- options]

          Starts a cluster of replica processes (children of this program) on 127.0.0.1 over UDP, injects client
          updates through each replica's client port, kills the leader's process (kill -9) at 40 %, shows the others
          elect a new leader and carry on, restarts the killed replica at 65 % and shows it replay its log and catch
          up, and checks at the end that every replica executed the same updates in the same order, and each
          acknowledged update exactly once, at the sequence its answer named. Exits 0 only if that check passed.
          Ctrl+C stops it and its replicas.

          Each replica keeps a write-ahead log (fsync before it acknowledges) in ROOT/r0, ROOT/r1, ...; ROOT is
          ./paxos-sample-data unless --data-dir says otherwise. Run the demo again and the replicas resume from their
          logs: this run's updates are ordered after the earlier runs' (ROOT/demo.txt counts the runs, so each run's
          writers use new client ids: run n uses n001, n002, ...). A replica directory deleted between runs is
          rebuilt from the others (--rebuild). Delete ROOT to start over.

          --replicas N     replicas, 1 to 7 (default 3). With fewer than 3 the leader is not killed: no
                           majority would survive. A ROOT keeps the size it was created with.
          --updates N      updates in all (default 5000)
          --writers N      concurrent clients, 1 to 64 (default 8); each awaits its answer before its next update
                           (timestamps 1, 2, 3...). A writer whose replica dies re-submits the same (client id,
                           timestamp) to another replica: it executes once, and the answer is the same.
          --no-kill        do not kill (nor restart) the leader
          --data-dir ROOT  where the replicas keep their data (default ./paxos-sample-data)
          --in-memory      keep nothing on disk: no fsync, and the restarted replica comes back empty and
                           rebuilds its state from its peers
          --in-process     the same demo with the replicas as nodes inside this process, connected by an
                           in-process network instead of UDP (with the same data directories)

        ONE REPLICA (to run a cluster by hand, across terminals or machines)
          dotnet run --project samples/Paxos.Sample.Host -- --id 2 --peers 0=10.0.0.1:7001,1=10.0.0.2:7001,2=10.0.0.3:7001

          Runs replica --id of the cluster --peers lists (every replica, itself included, as id=host:port; it binds
          its own entry) until Ctrl+C or SIGTERM, logging to the console.

          --data-dir DIR           keep the replica's write-ahead log in DIR (created if missing; one replica per
                                   directory): it fsyncs before it acknowledges, and after a crash (even kill -9)
                                   it recovers everything it promised and replays its executed updates. It
                                   prints DIR and what it recovered. Without --data-dir the state is in memory
                                   and lost with the process.
          --rebuild                the replica's state was lost (a wiped or new DIR, or in memory) while the
                                   cluster runs: it learns the state from its peers and does not vote until it
                                   has caught up. Never give it to every replica of a new cluster; ignored when
                                   DIR holds state.
          --no-history             do not keep the list of executed updates (24 bytes per update) that the
                                   History request serves
          --leader-sends-accept    the leader writes its own Proposal in parallel with its peers and counts
                                   its acceptance by an explicit Accept once durable (PfSB's variant: one
                                   fsync less on the commit path; helps when the disk is slow)
          --read-leases            PaxosOptions.ReadLeases: the leader serves linearizable reads without a
                                   round trip while a majority's promises run (assumes clocks within 1 %
                                   of each other; give it to every replica)
          --inline-completions     PaxosOptions.UnsafePreferInlineCompletions: answers complete on the thread
                                   that ran the loop (one thread wake-up less per answer); used by the load
                                   generator, whose writers' continuations are short and never block
          --client-port P          TCP port for clients, on the same address (default: the UDP port + 100)
          --cluster-key BASE64     shared secret (16+ bytes) of the cluster: every datagram is then
                                   authenticated with HMAC-SHA256 (default: CRC-32C only)
          --tick-ms T              the protocol clock's tick, in milliseconds (default 10)
          --snapshot-every N       take a snapshot every N executed updates and release the log and history
                                   behind it (default 100000; 0: never)
          --max-datagram-bytes B   the largest datagram (default 1472, or 8192 when every replica is on a
                                   loopback address, whose MTU of 65536 never fragments it; up to 65507)
          --listener-port P        TCP port of the Paxos.Client listener (default: the UDP port + 200)
          --client-key BASE64      the listener's key (16+ bytes): client frames are then authenticated with
                                   HMAC-SHA256 (default: none); keep it apart from --cluster-key
          --child                  used by the demo: print a READY line and exit when standard input closes

        CLIENT
          dotnet run --project samples/Paxos.Sample.Host -- client --replicas 127.0.0.1:7201,127.0.0.1:7202 [options]
          dotnet run --project samples/Paxos.Sample.Host -- client --replica 127.0.0.1:7101 --status|--history|--load W

          With --replicas (the replicas' Paxos.Client listener ports), submits updates through the Paxos.Client
          package: it opens a session, fails over between the replicas, and retries an update under the same
          (session, sequence), so it never executes twice. Prints each answer: the sequence number the update
          executed at, and the previous value (SET) or the value (GET).

          --count N            updates to submit (default 10)
          --payload TEXT       the update, "SET key value" or "GET key" (default: SET key<i> value<i>)
          --read KEY           read KEY linearizably instead, and print its value
          --client-key BASE64  the replicas' --client-key, if they have one

          With --replica (one replica's sample port, the UDP port + 100 by default):
          --status             print the replica's status: state, view, leader, executed count,
                               state digest, peak memory, storage (fsyncs, batches, bytes written, what
                               it recovered at start)
          --history            print the updates it executed: (sequence, client, timestamp), --count
                               of them (default 20, at most 2048) from sequence --from (default 1)
          --load W             run W writers inside the replica's own process and print throughput and
                               latency (with --seconds S, default 10; --warmup S, default 3;
                               --payload-bytes B, default 64)

        Paxos.Client's wire is described in docs/clients.md. The sample's own protocol (its --replica port):
        4-byte little-endian length, 1-byte type, fixed-width little-endian fields: Submit(client id, timestamp,
        payload) -> Reply(executor reply: sequence, kind, value) or Error(reason, leader hint, message); Status -> (id, state, views, leader, local aru, executed, digest,
        peak memory, ..., storage figures); Load(writers, ms measured, payload bytes, ms warm-up) -> the
        measurement; History(from sequence, max count <= 2048) -> (executed in all, entries of sequence, client
        id, timestamp).
        """;
}
