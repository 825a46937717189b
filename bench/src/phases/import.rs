//! Phase 9, Rolodex only: `rolodex import` of all N cards from one .vcf file into a second
//! user's book while the server runs, checked by listing that book over CardDAV.

use std::io::Write;
use std::time::Instant;

use super::Ctx;
use crate::dav::{self, Dav};
use crate::servers::{self, PASSWORD};
use crate::stats::Measurement;
use crate::xml::parse_multistatus;

const IMPORTER: &str = "importer";

pub async fn run(ctx: &Ctx<'_>) -> Result<Measurement, String> {
    let file = ctx.run_dir.join("import.vcf");
    write_vcf(ctx, &file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let data_dir = &ctx.server.data_dir;
    servers::rolodex_cli(
        ctx.tools,
        data_dir,
        &["user", "add", IMPORTER, "--password-stdin"],
    )
    .await?;

    let file_arg = file.display().to_string();
    let started = Instant::now();
    let (status, stdout, stderr) = servers::run_rolodex(
        ctx.tools,
        data_dir,
        &["import", "--user", IMPORTER, &file_arg],
    )
    .await?;
    let elapsed = started.elapsed();
    if !status.success() {
        let output: String = format!("{stdout}{stderr}").chars().take(400).collect();
        return Err(format!("`rolodex import` exited with {status}: {output}"));
    }

    let dav = Dav {
        book: format!("/dav/addressbooks/{IMPORTER}/contacts/"),
        user: IMPORTER.to_string(),
        password: PASSWORD.to_string(),
        ..ctx.server.dav.clone()
    };
    let reply = dav::timed(dav.propfind(&dav.book, "1", dav::PROPFIND_ETAG)).await?;
    if reply.status.as_u16() != 207 {
        return Err(format!(
            "PROPFIND of the imported book: {}",
            reply.describe()
        ));
    }
    let ms = parse_multistatus(reply.text()?)?;
    let cards = ms
        .responses
        .iter()
        .filter(|r| !dav.is_book(&dav.normalize_href(&r.href)) && r.etag.is_some())
        .count();
    if cards != ctx.n() {
        return Err(format!(
            "imported book holds {cards} cards, expected {} (import said: {})",
            ctx.n(),
            stdout.trim()
        ));
    }
    Ok(Measurement::from_durations(&[elapsed]).with_cards(ctx.n()))
}

fn write_vcf(ctx: &Ctx<'_>, path: &std::path::Path) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for card in ctx.cards {
        out.write_all(card.vcard().as_bytes())?;
    }
    out.flush()
}
