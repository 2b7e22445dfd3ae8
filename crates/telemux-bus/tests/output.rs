//! Output and event streams against a real redis-server: append, follow with a
//! cursor, resume, and an explicit gap when entries were trimmed.

mod common;

use std::time::{Duration, Instant};

use common::{name, Redis};
use telemux_bus::{Bus, Cursor, EventReader, OutputIds, OutputReader};
use telemux_proto::{Envelope, MeshEvent, OutputEvent, OutputRecord, SessionName};

fn record(seq: u64) -> Envelope {
    Envelope::seal(
        "RasPi",
        &OutputRecord {
            seq,
            ts_ms: telemux_proto::now_ms(),
            event: OutputEvent::Lines {
                lines: vec![format!("line {seq}")],
                partial: String::new(),
                raw: vec![],
            },
        },
    )
    .unwrap()
}

fn seqs(batch: &telemux_bus::OutputBatch) -> Vec<u64> {
    batch
        .entries
        .iter()
        .map(|(_, r)| r.as_ref().unwrap().seq)
        .collect()
}

#[tokio::test]
async fn append_follow_and_resume() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (name("RasPi"), SessionName::new("api").unwrap());

    assert!(bus.last_output(&c, &s).await.unwrap().is_none());
    let mut from_start = OutputReader::new(&bus, &c, &s, Cursor::Start)
        .await
        .unwrap();
    let empty = from_start.next_batch(None, 10).await.unwrap();
    assert!(empty.entries.is_empty() && empty.gap.is_none());

    let mut ids = Vec::new();
    for seq in 1..=3 {
        ids.push(bus.append_output(&c, &s, &record(seq), 1000).await.unwrap());
    }
    let mut from_end = OutputReader::new(&bus, &c, &s, Cursor::End).await.unwrap();
    assert_eq!(from_end.cursor(), ids[2]);

    let (last_id, last) = bus.last_output(&c, &s).await.unwrap().unwrap();
    assert_eq!(last_id, ids[2]);
    assert_eq!(last.open::<OutputRecord>().unwrap().seq, 3);

    let b = from_start.next_batch(None, 2).await.unwrap();
    assert_eq!(seqs(&b), [1, 2]);
    assert!(b.gap.is_none());
    assert_eq!(from_start.cursor(), ids[1]);
    let b = from_start
        .next_batch(Some(Duration::from_millis(100)), 10)
        .await
        .unwrap();
    assert_eq!(seqs(&b), [3]);

    // Blocking read wakes up promptly when a record is appended.
    let writer = {
        let (bus, c, s) = (bus.clone(), c.clone(), s.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            bus.append_output(&c, &s, &record(4), 1000).await.unwrap()
        })
    };
    let t = Instant::now();
    let b = from_start
        .next_batch(Some(Duration::from_secs(5)), 10)
        .await
        .unwrap();
    assert_eq!(seqs(&b), [4]);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let id4 = writer.await.unwrap();

    // The End reader sees only what came after it was created.
    let b = from_end.next_batch(None, 10).await.unwrap();
    assert_eq!(seqs(&b), [4]);

    // A blocking read with nothing new returns empty after the wait.
    let t = Instant::now();
    let b = from_end
        .next_batch(Some(Duration::from_millis(2500)), 10)
        .await
        .unwrap();
    assert!(b.entries.is_empty() && b.gap.is_none());
    assert!(
        t.elapsed() >= Duration::from_millis(2400),
        "{:?}",
        t.elapsed()
    );

    // Resuming from a cursor.
    let mut resumed = OutputReader::new(&bus, &c, &s, Cursor::After(ids[0].clone()))
        .await
        .unwrap();
    let b = resumed.next_batch(None, 10).await.unwrap();
    assert_eq!(seqs(&b), [2, 3, 4]);
    assert_eq!(resumed.cursor(), id4);

    // Non-blocking range reads.
    let r = bus.read_output_range(&c, &s, None, 2).await.unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].0, ids[0]);
    let r = bus
        .read_output_range(&c, &s, Some(&ids[2]), 10)
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1.as_ref().unwrap().seq, 4);

    // A bad cursor is a clear error.
    let err = OutputReader::new(&bus, &c, &s, Cursor::After("yesterday".into()))
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("invalid output cursor 'yesterday'"),
        "{err}"
    );
}

#[tokio::test]
async fn trimmed_entries_are_reported_as_a_gap_once() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (name("RasPi"), SessionName::new("flood").unwrap());

    let first = bus.append_output(&c, &s, &record(1), 10).await.unwrap();
    let mut reader = OutputReader::new(&bus, &c, &s, Cursor::Start)
        .await
        .unwrap();
    let b = reader.next_batch(None, 10).await.unwrap();
    assert_eq!(seqs(&b), [1]);
    assert_eq!(reader.cursor(), first);

    // A reader that keeps up never sees a gap, even while the stream is trimmed.
    let mut keeping_up = OutputReader::new(&bus, &c, &s, Cursor::End).await.unwrap();
    for seq in 2..=400 {
        bus.append_output(&c, &s, &record(seq), 10).await.unwrap();
        if seq % 5 == 0 {
            let b = keeping_up.next_batch(None, 100).await.unwrap();
            assert!(b.gap.is_none(), "at {seq}");
        }
    }
    let len: usize = redis
        .cli(&["XLEN", "telemux:out:raspi:flood"])
        .await
        .parse()
        .unwrap();
    assert!(len < 200, "trimmed to about 10 (~ is approximate): {len}");

    // The slow reader's next entry is long gone: a gap, reported once.
    let b = reader.next_batch(None, 1000).await.unwrap();
    let gap = b.gap.clone().expect("gap reported");
    assert_eq!(gap.after, first);
    assert_eq!(gap.resumed_at, b.entries[0].0);
    assert!(gap.to_string().contains("trimmed"));
    let got = seqs(&b);
    assert!(got[0] > 2, "{got:?}");
    assert_eq!(*got.last().unwrap(), 400);
    bus.append_output(&c, &s, &record(401), 10).await.unwrap();
    let b = reader.next_batch(None, 1000).await.unwrap();
    assert!(b.gap.is_none());
    assert_eq!(seqs(&b), [401]);

    // Resuming from an old cursor reports the gap too.
    let mut late = OutputReader::new(&bus, &c, &s, Cursor::After(first))
        .await
        .unwrap();
    assert!(late.next_batch(None, 1000).await.unwrap().gap.is_some());
}

#[tokio::test]
async fn garbage_output_entries_are_errors_not_failures() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (name("RasPi"), SessionName::new("api").unwrap());
    bus.append_output(&c, &s, &record(1), 100).await.unwrap();
    redis
        .cli(&["XADD", "telemux:out:raspi:api", "*", "e", "junk"])
        .await;
    bus.append_output(&c, &s, &record(2), 100).await.unwrap();
    let mut r = OutputReader::new(&bus, &c, &s, Cursor::Start)
        .await
        .unwrap();
    let b = r.next_batch(None, 10).await.unwrap();
    assert_eq!(b.entries.len(), 3);
    assert!(b.entries[0].1.is_ok() && b.entries[1].1.is_err() && b.entries[2].1.is_ok());
}

#[tokio::test]
async fn events_publish_and_follow() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let mut reader = EventReader::new(&bus, Cursor::End).await.unwrap();
    let ev = MeshEvent::ComputerOnline {
        computer: "RasPi".into(),
    };
    let id = bus
        .publish_event(&Envelope::seal("RasPi", &ev).unwrap())
        .await
        .unwrap();
    let b = reader
        .next_batch(Some(Duration::from_secs(3)), 10)
        .await
        .unwrap();
    assert_eq!(b.entries.len(), 1);
    assert_eq!(b.entries[0].0, id);
    assert_eq!(b.entries[0].1.as_ref().unwrap(), &ev);
    assert_eq!(reader.cursor(), id);
}

#[tokio::test]
async fn appending_a_record_again_under_its_id_stores_it_once() {
    let redis = Redis::start().await;
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (c, s) = (name("RasPi"), SessionName::new("api").unwrap());
    let mut ids = OutputIds::after(None);
    let batch: Vec<(String, Envelope)> = (0..3).map(|n| (ids.next(n, 1000), record(n))).collect();
    assert_eq!(
        bus.append_outputs(&c, &s, &batch[..2], 100)
            .await
            .1
            .map(|e| e.to_string()),
        None
    );
    // A retry of a batch whose first records are stored already (the first
    // attempt timed out after Redis took them, or was replayed).
    let (stored, err) = bus.append_outputs(&c, &s, &batch, 100).await;
    assert_eq!((stored, err.map(|e| e.to_string())), (3, None));
    let mut r = OutputReader::new(&bus, &c, &s, Cursor::Start)
        .await
        .unwrap();
    let b = r.next_batch(None, 10).await.unwrap();
    assert_eq!(seqs(&b), [0, 1, 2]);
    let got: Vec<&str> = b.entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(got, ["1000-0", "1000-1", "1000-2"]);
    // A restarted node continues above the newest id.
    let (last, _) = bus.last_output(&c, &s).await.unwrap().unwrap();
    assert_eq!(OutputIds::after(Some(&last)).next(3, 900), "1000-3");
}
