// SPDX-License-Identifier: Apache-2.0
/*
 * Where a loaded driver's writable state lives: the writable PT_LOAD segments of the shared
 * object (.data, .bss and what the linker put beside them), found with dl_iterate_phdr, less
 * what must not be restored — the RELRO part the loader made read-only, and the coverage
 * counters of -fsanitize-coverage (__sancov_* sections: libFuzzer owns them between runs).
 * Plain libc here: the kernel shim's headers stay out of this file.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hvb_internal.h"

struct find {
	uintptr_t inside;
	struct hvb_span *out;
	int max, n, found;
	size_t skipped;
};

/* Removes [lo, hi) from every span. */
static void carve(struct find *f, uintptr_t lo, uintptr_t hi)
{
	int i, n = f->n;

	if (lo >= hi)
		return;
	for (i = 0; i < n; i++) {
		uintptr_t a = f->out[i].start, b = a + f->out[i].len;

		if (hi <= a || lo >= b)
			continue;
		f->skipped += (hi < b ? hi : b) - (lo > a ? lo : a);
		if (lo > a && hi < b && f->n < f->max) {
			f->out[f->n].start = hi;
			f->out[f->n].len = b - hi;
			f->n++;
			f->out[i].len = lo - a;
		} else if (lo > a) {
			f->out[i].len = lo - a;
		} else if (hi < b) {
			f->out[i].start = hi;
			f->out[i].len = b - hi;
		} else {
			f->out[i].len = 0;
		}
	}
}

/* The __sancov_* sections of the object's file, read from its section headers. */
static void carve_coverage(struct find *f, const char *path, uintptr_t base)
{
	FILE *fp = fopen(path, "rb");
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strsh;
	char name[32];
	int i;

	if (!fp)
		return;
	if (fread(&eh, sizeof(eh), 1, fp) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum)
		goto out;
	if (fseek(fp, (long)(eh.e_shoff + (Elf64_Off)eh.e_shstrndx * sizeof(sh)), SEEK_SET) || fread(&strsh, sizeof(strsh), 1, fp) != 1)
		goto out;
	for (i = 0; i < eh.e_shnum; i++) {
		size_t got;

		if (fseek(fp, (long)(eh.e_shoff + (Elf64_Off)i * sizeof(sh)), SEEK_SET) || fread(&sh, sizeof(sh), 1, fp) != 1)
			goto out;
		if (!(sh.sh_flags & SHF_ALLOC) || !(sh.sh_flags & SHF_WRITE))
			continue;
		if (fseek(fp, (long)(strsh.sh_offset + sh.sh_name), SEEK_SET))
			goto out;
		got = fread(name, 1, sizeof(name) - 1, fp);
		name[got] = 0;
		if (!strncmp(name, "__sancov", 8))
			carve(f, base + sh.sh_addr, base + sh.sh_addr + sh.sh_size);
	}
out:
	fclose(fp);
}

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	int i, mine = 0;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + p->p_vaddr;

		if (p->p_type == PT_LOAD && f->inside >= a && f->inside < a + p->p_memsz)
			mine = 1;
	}
	if (!mine)
		return 0;
	f->found = 1;
	for (i = 0; i < info->dlpi_phnum && f->n < f->max; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];

		if (p->p_type == PT_LOAD && (p->p_flags & PF_W) && p->p_memsz) {
			f->out[f->n].start = info->dlpi_addr + p->p_vaddr;
			f->out[f->n].len = p->p_memsz;
			f->n++;
		}
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];

		/* What the loader mprotects read-only after relocation (whole pages). */
		if (p->p_type == PT_GNU_RELRO) {
			uintptr_t lo = (info->dlpi_addr + p->p_vaddr) & ~(page - 1);
			uintptr_t hi = (info->dlpi_addr + p->p_vaddr + p->p_memsz) & ~(page - 1);

			carve(f, lo, hi);
		}
	}
	if (info->dlpi_name && *info->dlpi_name)
		carve_coverage(f, info->dlpi_name, info->dlpi_addr);
	return 1;
}

int hvb_writable_spans(const void *inside, struct hvb_span *out, int max, size_t *skipped)
{
	struct find f = { (uintptr_t)inside, out, max, 0, 0, 0 };
	int i, n = 0;

	dl_iterate_phdr(each_object, &f);
	if (!f.found)
		return -1;
	for (i = 0; i < f.n; i++)
		if (f.out[i].len)
			out[n++] = f.out[i];
	if (skipped)
		*skipped = f.skipped;
	return n;
}
