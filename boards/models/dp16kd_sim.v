// A behavioural model of the ECP5 DP16KD block RAM, for simulating the netlists lowbit
// synthesizes (lowbit.boards.netlist); Yosys's cells_sim_ecp5.v has DP16KD as a black box.
//
// Modelled: what Yosys 0.70's maps (techlibs/lattice/brams_map_16kd.v) instantiate, and what
// lowbit.boards.outreg changes in them, on one clock:
// - true dual port (DATA_WIDTH_A/B of 1, 2, 4, 9, 18 per port): per-port clock enable CEx,
//   write enable WEx, byte enables on ADx1..0 at 18 bits; WRITEMODE NORMAL, WRITETHROUGH or
//   READBEFOREWRITE for a port's own read;
// - the 36-bit pseudo dual port (DATA_WIDTH_A 36): writes on port A (DIB:DIA, byte enables on
//   ADA3..0), reads on port B under CEB (36 bits on DOB:DOA, narrower ones on DOB);
// - REGMODE NOREG or OUTREG per port: the output register after the read latch, enabled by
//   OCEx and cleared by RSTx (in the pseudo dual port mode port A's for DOA, B's for DOB).
// Not modelled, and refused by lowbit.boards.netlist before a netlist reaches a simulator:
// contents other than zero (INITVAL), chip selects other than 0, inverted clocks, two clocks,
// resets other than 0. A read and a write of one location on different ports in one cycle
// return the old data (the units never do that).
// Layout: 1024 rows of 18 bits (two 9-bit bytes); a 36-bit word a is rows 2a (low half) and
// 2a+1; a 9-bit word a is byte a[0] of row a >> 1; at 1, 2 and 4 bits the 16384 data bits run
// through bits 0-7 and 9-16 of the rows in order.
module DP16KD(
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA,
  input CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB,
  input CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA";
  parameter CLKBMUX = "CLKB";
  parameter GSR = "ENABLED";
  parameter INIT_DATA = "STATIC";
  parameter INITVAL_00 = 320'h0;
  parameter INITVAL_01 = 320'h0;
  parameter INITVAL_02 = 320'h0;
  parameter INITVAL_03 = 320'h0;
  parameter INITVAL_04 = 320'h0;
  parameter INITVAL_05 = 320'h0;
  parameter INITVAL_06 = 320'h0;
  parameter INITVAL_07 = 320'h0;
  parameter INITVAL_08 = 320'h0;
  parameter INITVAL_09 = 320'h0;
  parameter INITVAL_0A = 320'h0;
  parameter INITVAL_0B = 320'h0;
  parameter INITVAL_0C = 320'h0;
  parameter INITVAL_0D = 320'h0;
  parameter INITVAL_0E = 320'h0;
  parameter INITVAL_0F = 320'h0;
  parameter INITVAL_10 = 320'h0;
  parameter INITVAL_11 = 320'h0;
  parameter INITVAL_12 = 320'h0;
  parameter INITVAL_13 = 320'h0;
  parameter INITVAL_14 = 320'h0;
  parameter INITVAL_15 = 320'h0;
  parameter INITVAL_16 = 320'h0;
  parameter INITVAL_17 = 320'h0;
  parameter INITVAL_18 = 320'h0;
  parameter INITVAL_19 = 320'h0;
  parameter INITVAL_1A = 320'h0;
  parameter INITVAL_1B = 320'h0;
  parameter INITVAL_1C = 320'h0;
  parameter INITVAL_1D = 320'h0;
  parameter INITVAL_1E = 320'h0;
  parameter INITVAL_1F = 320'h0;
  parameter INITVAL_20 = 320'h0;
  parameter INITVAL_21 = 320'h0;
  parameter INITVAL_22 = 320'h0;
  parameter INITVAL_23 = 320'h0;
  parameter INITVAL_24 = 320'h0;
  parameter INITVAL_25 = 320'h0;
  parameter INITVAL_26 = 320'h0;
  parameter INITVAL_27 = 320'h0;
  parameter INITVAL_28 = 320'h0;
  parameter INITVAL_29 = 320'h0;
  parameter INITVAL_2A = 320'h0;
  parameter INITVAL_2B = 320'h0;
  parameter INITVAL_2C = 320'h0;
  parameter INITVAL_2D = 320'h0;
  parameter INITVAL_2E = 320'h0;
  parameter INITVAL_2F = 320'h0;
  parameter INITVAL_30 = 320'h0;
  parameter INITVAL_31 = 320'h0;
  parameter INITVAL_32 = 320'h0;
  parameter INITVAL_33 = 320'h0;
  parameter INITVAL_34 = 320'h0;
  parameter INITVAL_35 = 320'h0;
  parameter INITVAL_36 = 320'h0;
  parameter INITVAL_37 = 320'h0;
  parameter INITVAL_38 = 320'h0;
  parameter INITVAL_39 = 320'h0;
  parameter INITVAL_3A = 320'h0;
  parameter INITVAL_3B = 320'h0;
  parameter INITVAL_3C = 320'h0;
  parameter INITVAL_3D = 320'h0;
  parameter INITVAL_3E = 320'h0;
  parameter INITVAL_3F = 320'h0;

  localparam PDP = DATA_WIDTH_A == 36;

  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};

  reg [17:0] rows [0:1023];
  reg [17:0] lat_a, lat_b, out_a, out_b;
  integer r;
  initial begin
    for (r = 0; r < 1024; r = r + 1) rows[r] = 18'd0;
    lat_a = 18'd0;
    lat_b = 18'd0;
    out_a = 18'd0;
    out_b = 18'd0;
  end

  // Data bit k (of the 16384 outside the ninth bits) as {row, bit in row}.
  function [14:0] data_bit(input [13:0] k);
    data_bit = {k[13:4], k[3] ? {1'b0, k[3:0]} + 5'd1 : {1'b0, k[3:0]}};
  endfunction

  // The w-bit word at port address ad (w = 1, 2, 4), its number a = ad >> log2(w).
  function [17:0] read_narrow(input integer w, input [13:0] a);
    integer i;
    reg [14:0] p;
    begin
      read_narrow = 18'd0;
      for (i = 0; i < w; i = i + 1) begin
        p = data_bit(a * w + i);
        read_narrow[i] = rows[p[14:5]][p[4:0]];
      end
    end
  endfunction

  function [13:0] narrow_word(input integer w, input [13:0] ad);
    narrow_word = w == 4 ? {2'b0, ad[13:2]} : w == 2 ? {1'b0, ad[13:1]} : ad;
  endfunction

  // The word of width w (at most 18) at port address ad.
  function [17:0] read_word(input integer w, input [13:0] ad);
    if (w == 18) read_word = rows[ad[13:4]];
    else if (w == 9) read_word = {9'd0, ad[3] ? rows[ad[13:4]][17:9] : rows[ad[13:4]][8:0]};
    else read_word = read_narrow(w, narrow_word(w, ad));
  endfunction

  task write_word(input integer w, input [13:0] ad, input [17:0] d, input [1:0] be);
    integer i;
    reg [14:0] p;
    begin
      if (w == 18) begin
        if (be[0]) rows[ad[13:4]][8:0] = d[8:0];
        if (be[1]) rows[ad[13:4]][17:9] = d[17:9];
      end else if (w == 9) begin
        if (ad[3]) rows[ad[13:4]][17:9] = d[8:0];
        else rows[ad[13:4]][8:0] = d[8:0];
      end else begin
        for (i = 0; i < w; i = i + 1) begin
          p = data_bit(narrow_word(w, ad) * w + i);
          rows[p[14:5]][p[4:0]] = d[i];
        end
      end
    end
  endtask

  reg [17:0] old_a, old_b;
  always @(posedge CLKA) begin
    // Reads before writes: another port's write in the same cycle is not seen.
    if (PDP) begin
      old_a = rows[{adb[13:5], 1'b0}];
      old_b = DATA_WIDTH_B == 36 ? rows[{adb[13:5], 1'b1}] : read_word(DATA_WIDTH_B, adb);
    end else begin
      old_a = read_word(DATA_WIDTH_A, ada);
      old_b = read_word(DATA_WIDTH_B, adb);
    end
    // The output registers take the latches as they were before this edge.
    if (PDP) begin
      // The low half's output register on port A's enable and reset, the high half's on
      // port B's (which of them the silicon uses is not documented in the open tools;
      // lowbit.boards.outreg sets both to the same net, so either way is modelled).
      if (RSTA) out_a <= 18'd0;
      else if (OCEA) out_a <= lat_a;
      if (RSTB) out_b <= 18'd0;
      else if (OCEB) out_b <= lat_b;
    end else begin
      if (RSTA) out_a <= 18'd0;
      else if (OCEA) out_a <= lat_a;
      if (RSTB) out_b <= 18'd0;
      else if (OCEB) out_b <= lat_b;
    end
    if (PDP) begin
      if (CEA && WEA) begin
        if (ada[0]) rows[{ada[13:5], 1'b0}][8:0] = dia[8:0];
        if (ada[1]) rows[{ada[13:5], 1'b0}][17:9] = dia[17:9];
        if (ada[2]) rows[{ada[13:5], 1'b1}][8:0] = dib[8:0];
        if (ada[3]) rows[{ada[13:5], 1'b1}][17:9] = dib[17:9];
      end
      if (RSTB) begin
        lat_a <= 18'd0;
        lat_b <= 18'd0;
      end else if (CEB) begin
        lat_a <= old_a;
        lat_b <= old_b;
      end
    end else begin
      if (CEA && WEA) write_word(DATA_WIDTH_A, ada, dia, DATA_WIDTH_A == 18 ? ada[1:0] : 2'b11);
      if (CEB && WEB) write_word(DATA_WIDTH_B, adb, dib, DATA_WIDTH_B == 18 ? adb[1:0] : 2'b11);
      if (RSTA) lat_a <= 18'd0;
      else if (CEA && !WEA) lat_a <= old_a;
      else if (CEA && WRITEMODE_A == "READBEFOREWRITE") lat_a <= old_a;
      else if (CEA && WRITEMODE_A == "WRITETHROUGH") lat_a <= read_word(DATA_WIDTH_A, ada);
      if (RSTB) lat_b <= 18'd0;
      else if (CEB && !WEB) lat_b <= old_b;
      else if (CEB && WRITEMODE_B == "READBEFOREWRITE") lat_b <= old_b;
      else if (CEB && WRITEMODE_B == "WRITETHROUGH") lat_b <= read_word(DATA_WIDTH_B, adb);
    end
  end

  wire [17:0] doa = REGMODE_A == "OUTREG" ? out_a : lat_a;
  wire [17:0] dob = REGMODE_B == "OUTREG" ? out_b : lat_b;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
