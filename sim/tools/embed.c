/* Build-time tool: writes a file's bytes as a C array, so the web page is
 * served from the binary.   embed NAME FILE > out.c */
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: embed NAME FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	printf("#include <stddef.h>\n\nconst unsigned char %s[] = {\n", argv[1]);
	size_t n = 0;
	int c;
	while ((c = getc(f)) != EOF) {
		printf("%s0x%02x,", n % 16 == 0 ? "\n\t" : " ", c);
		n++;
	}
	printf("\n\t0x00\n};\nconst size_t %s_len = %zu;\n", argv[1], n);
	fclose(f);
	return ferror(stdout) ? 1 : 0;
}
